"""Widgets of Cove's TUI: they show data and post messages; screens call the daemon."""
