"""Cove's Textual terminal UI: a client of the daemon's API."""
