"""Cove's daemon: the one process that owns the index, the model and the API."""

__version__ = "0.1.0"
