"""One write transaction for Cove's SQLite databases (cove.db, the embedding cache)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlite_utils


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[None]:
    """BEGIN IMMEDIATE ... COMMIT on an autocommit connection, rolled back on any error
    (KeyboardInterrupt and cancellation included). IMMEDIATE takes the write lock at once,
    so two writers wait on busy_timeout instead of failing to upgrade a read lock."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
