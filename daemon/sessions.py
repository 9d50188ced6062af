"""Chat sessions and messages in cove.db."""

from __future__ import annotations

import json
import time
import uuid

import sqlite_utils


class SessionNotFoundError(LookupError):
    pass


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def create_session(db: sqlite_utils.Database, title: str, general: bool = False) -> str:
    now = time.time()
    session_id = new_id("s")
    db["sessions"].insert(
        {
            "id": session_id,
            "title": title[:80],
            "general": int(general),
            "created_at": now,
            "updated_at": now,
        }
    )
    return session_id


def get_session(db: sqlite_utils.Database, session_id: str) -> dict:
    rows = list(db.query("SELECT * FROM sessions WHERE id = ?", [session_id]))
    if not rows:
        raise SessionNotFoundError(f"no session {session_id!r}: see `cove sessions list`")
    return rows[0]


def add_message(
    db: sqlite_utils.Database,
    session_id: str,
    role: str,
    content: str,
    *,
    grounded: bool = False,
    model: str = "",
    adapter: str | None = None,
    timings: dict | None = None,
) -> str:
    message_id = new_id("m")
    now = time.time()
    db["messages"].insert(
        {
            "id": message_id,
            "session_id": session_id,
            "role": role,
            "content": content,
            "grounded": int(grounded),
            "model": model,
            "adapter": adapter or "",
            "timings": json.dumps(timings or {}),
            "created_at": now,
        }
    )
    db["sessions"].update(session_id, {"updated_at": now})
    return message_id


def history(db: sqlite_utils.Database, session_id: str) -> list[dict[str, str]]:
    """The session's turns as chat messages, oldest first."""
    rows = db.query(
        "SELECT role, content FROM messages WHERE session_id = ? ORDER BY created_at, rowid",
        [session_id],
    )
    return [{"role": r["role"], "content": r["content"]} for r in rows]
