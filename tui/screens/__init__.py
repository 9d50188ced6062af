"""Cove's screens (one per file, each with its .tcss) and modal dialogs."""
