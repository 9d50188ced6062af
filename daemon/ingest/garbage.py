"""Superseded chunk generations, deleted after a grace period.

A file indexed again gets a new generation of chunks; the old one's rows and vectors are
deleted on the worker's first pass after GC_DELAY_S.
"""

from __future__ import annotations

import time

import sqlite_utils

from cove.index import manifest
from cove.index.vectors import VectorStore

# Superseded chunk rows are deleted this long after their file flipped generation, so a
# search that read Chroma just before the flip still finds their rows.
GC_DELAY_S = 2.0


class Garbage:
    """The files whose older generations are due for deletion, and when."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int]] = []  # (due, file_id)

    def add(self, file_id: int) -> None:
        """`file_id` has a new generation: its older ones go after the grace period."""
        self._due.append((time.monotonic() + GC_DELAY_S, file_id))

    def collect(self, db: sqlite_utils.Database, store: VectorStore, force: bool = False) -> None:
        """Delete superseded generations whose grace period is over (all, with `force`)."""
        now = time.monotonic()
        due = {f for t, f in self._due if force or t <= now}
        if not due:
            return
        self._due = [(t, f) for t, f in self._due if f not in due]
        for file_id in due:
            ids = manifest.superseded_chunk_ids(db, file_id)
            if ids:
                store.delete(ids)
                manifest.delete_chunks(db, ids)

    def next_due(self) -> float | None:
        """When the next garbage is due (monotonic), or None."""
        return min((t for t, _ in self._due), default=None)
