"""Watching: the watched folders and the file-system watcher that turns their changes into
indexing tasks."""
