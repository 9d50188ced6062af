"""cove.db: SQLite, through sqlite-utils, as the record of truth.

`open_db` applies every pending migration, so a daemon always runs on the current schema.
"""

from __future__ import annotations

from cove.daemon.store.db import open_db
from cove.daemon.store.migrations import MIGRATIONS, applied_migrations, migrate, schema_version
from cove.daemon.store.settings import get_setting, set_setting

__all__ = [
    "MIGRATIONS",
    "applied_migrations",
    "get_setting",
    "migrate",
    "open_db",
    "schema_version",
    "set_setting",
]
