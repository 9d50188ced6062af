"""Small persistent state that commands change, in the `settings` table."""

from __future__ import annotations

import json
import time
from typing import Any

import sqlite_utils


def get_setting(db: sqlite_utils.Database, key: str, default: Any = None) -> Any:
    rows = list(db.query("SELECT value FROM settings WHERE key = ?", [key]))
    return json.loads(rows[0]["value"]) if rows else default


def set_setting(db: sqlite_utils.Database, key: str, value: Any) -> None:
    db["settings"].upsert(
        {"key": key, "value": json.dumps(value), "updated_at": time.time()}, pk="key"
    )
