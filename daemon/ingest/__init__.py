"""Indexing: the queue and its worker, the per-file pipeline, upkeep (repair, reconcile,
garbage collection) and room on disk."""
