"""Opening cove.db with the connection settings every Cove process uses."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import sqlite_utils

from cove.daemon.store.migrations import migrate

BUSY_TIMEOUT_MS = 5000


def connect(path: Path | str) -> sqlite_utils.Database:
    """A connection in WAL mode with a busy timeout and foreign keys, without migrating."""
    conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")
    return sqlite_utils.Database(conn)


def open_db(path: Path | str) -> sqlite_utils.Database:
    """Connect to cove.db and bring its schema up to date."""
    db = connect(path)
    migrate(db)
    return db


class ThreadConnections:
    """One connection to cove.db per calling thread, opened on first use: the daemon's
    policy (README, "SQLite connections"). A connection is never shared between threads,
    so one thread's transaction never takes in another's statements."""

    def __init__(self, path: Path | str) -> None:
        self.path = path
        self._local = threading.local()

    def get(self) -> sqlite_utils.Database:
        """This thread's connection."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = connect(self.path)
        return db
