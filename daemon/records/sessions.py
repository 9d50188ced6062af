"""Chat sessions and messages in cove.db: record, list, search, rename, delete, export.

Timings and sources are stored as JSON text; the readers here return them parsed, with
each message's feedback (see `cove.daemon.records.feedback`) joined in.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import sqlite_utils

from cove.daemon.client.sources import NOT_CITED, cited, location
from cove.index.transactions import transaction


class SessionNotFoundError(LookupError):
    pass


class MessageNotFoundError(LookupError):
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
    sources: list[dict] | None = None,
    claims: list[dict] | None = None,
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
            "sources": json.dumps(sources or []),
            "claims": json.dumps(claims or []),
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


# --- reading ------------------------------------------------------------------------

SESSION_SQL = """
SELECT s.id, s.title, s.general, s.created_at, s.updated_at,
       COUNT(m.id) AS messages, COALESCE(MAX(m.created_at), s.created_at) AS last_activity
FROM sessions s LEFT JOIN messages m ON m.session_id = s.id
"""

MESSAGE_SQL = """
SELECT m.*, f.rating AS f_rating, f.correction AS f_correction,
       f.created_at AS f_created_at, f.updated_at AS f_updated_at
FROM messages m LEFT JOIN feedback f ON f.message_id = m.id
"""


def _session_doc(row: dict) -> dict:
    return {**row, "general": bool(row["general"])}


def _message_doc(row: dict) -> dict:
    """A message row with JSON parsed, booleans as booleans and its feedback (or None).
    `learned`: answered on the learned path (kept in its timings)."""
    timings = json.loads(row["timings"] or "{}")
    feedback = None
    if row["f_created_at"] is not None:
        feedback = {
            "rating": row["f_rating"],
            "correction": row["f_correction"],
            "created_at": row["f_created_at"],
            "updated_at": row["f_updated_at"],
        }
    return {
        "id": row["id"],
        "session_id": row["session_id"],
        "role": row["role"],
        "content": row["content"],
        "grounded": bool(row["grounded"]),
        "model": row["model"],
        "adapter": row["adapter"] or None,
        "sources": json.loads(row["sources"] or "[]"),
        "timings": timings,
        "claims": json.loads(row["claims"] or "[]"),
        "learned": timings.get("answer_mode") == "learned",
        "created_at": row["created_at"],
        "feedback": feedback,
    }


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_sessions(
    db: sqlite_utils.Database, query: str | None = None, limit: int | None = None
) -> list[dict]:
    """Sessions, most recent activity first, with their message count.

    `query` keeps the sessions whose title or any message contains it (case-insensitive
    for ASCII, like SQLite's LIKE).
    """
    where, params = "", {}
    if query:
        where = (
            "WHERE s.title LIKE :q ESCAPE '\\' OR EXISTS (SELECT 1 FROM messages x "
            "WHERE x.session_id = s.id AND x.content LIKE :q ESCAPE '\\')"
        )
        params = {"q": _like(query)}
    sql = f"{SESSION_SQL} {where} GROUP BY s.id ORDER BY last_activity DESC, s.rowid DESC"
    if limit is not None:
        sql += " LIMIT :limit"
        params["limit"] = limit
    return [_session_doc(row) for row in db.query(sql, params)]


def session_summary(db: sqlite_utils.Database, session_id: str) -> dict:
    """One session as `list_sessions` shows it."""
    get_session(db, session_id)
    row = next(db.query(f"{SESSION_SQL} WHERE s.id = ? GROUP BY s.id", [session_id]))
    return _session_doc(row)


def session_messages(db: sqlite_utils.Database, session_id: str) -> list[dict]:
    """Every message of the session, oldest first, with sources, timings and feedback."""
    get_session(db, session_id)
    rows = db.query(
        f"{MESSAGE_SQL} WHERE m.session_id = ? ORDER BY m.created_at, m.rowid", [session_id]
    )
    return [_message_doc(row) for row in rows]


def get_message(db: sqlite_utils.Database, message_id: str) -> dict:
    """One message with its sources, timings and feedback."""
    rows = list(db.query(f"{MESSAGE_SQL} WHERE m.id = ?", [message_id]))
    if not rows:
        raise MessageNotFoundError(f"no message {message_id!r}: see `cove sessions show ID`")
    return _message_doc(rows[0])


# --- changing -----------------------------------------------------------------------


def rename_session(db: sqlite_utils.Database, session_id: str, title: str) -> dict:
    """Give the session a new title; returns the session as `list_sessions` shows it."""
    title = " ".join(title.split())
    if not title:
        raise ValueError("a session title cannot be empty")
    get_session(db, session_id)
    db.execute(
        "UPDATE sessions SET title = ?, updated_at = ? WHERE id = ?",
        [title, time.time(), session_id],
    )
    return session_summary(db, session_id)


def delete_session(db: sqlite_utils.Database, session_id: str) -> dict:
    """Delete the session, its messages and their feedback, all at once or not at all."""
    get_session(db, session_id)
    owned = "SELECT id FROM messages WHERE session_id = ?"
    with transaction(db):
        feedback = db.execute(
            f"DELETE FROM feedback WHERE message_id IN ({owned})", [session_id]
        ).rowcount
        messages = db.execute("DELETE FROM messages WHERE session_id = ?", [session_id]).rowcount
        db.execute("DELETE FROM sessions WHERE id = ?", [session_id])
    return {"id": session_id, "messages": messages, "feedback": feedback}


# --- export -------------------------------------------------------------------------


def export_json(db: sqlite_utils.Database, session_id: str) -> dict[str, Any]:
    """`{"session": ..., "messages": [...]}`: everything Cove keeps about the session."""
    return {
        "session": session_summary(db, session_id),
        "messages": session_messages(db, session_id),
    }


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def source_line(source: dict) -> str:
    """`1. /notes/a.md — Ferries > Times, lines 12-18` (uncited ones say so)."""
    heading = source.get("heading") or []
    if isinstance(heading, str):
        heading = [heading] if heading else []
    where = [" > ".join(heading)] if heading else []
    if place := location(source):
        where.append(place)
    line = f"{source.get('n', '?')}. `{source.get('path', '?')}`"
    if where:
        line += " — " + ", ".join(where)
    return line if cited(source) else f"{line} {NOT_CITED}"


def _feedback_lines(feedback: dict | None) -> list[str]:
    if not feedback:
        return []
    lines = []
    if feedback["rating"]:
        lines.append(f"Feedback: rated {feedback['rating']}")
    if feedback["correction"]:
        quoted = "\n".join(f"> {line}" for line in feedback["correction"].splitlines())
        lines += ["Correction:", "", quoted]
    return lines


def _answer_block(message: dict) -> list[str]:
    kind = "from your documents" if message["grounded"] else "general knowledge"
    lines = [f"### Cove ({kind}) · `{message['id']}`", "", message["content"], ""]
    if message["sources"]:
        lines += ["Sources:", "", *map(source_line, message["sources"]), ""]
    feedback = _feedback_lines(message["feedback"])
    return lines + (feedback + [""] if feedback else [])


def export_markdown(db: sqlite_utils.Database, session_id: str) -> str:
    """The session as a Markdown document: title, each turn, sources under each answer,
    and the feedback given."""
    doc = export_json(db, session_id)
    session = doc["session"]
    lines = [
        f"# {session['title']}",
        "",
        f"Session `{session['id']}`, started {_when(session['created_at'])}, "
        f"last active {_when(session['last_activity'])}.",
        "",
    ]
    for message in doc["messages"]:
        if message["role"] == "assistant":
            lines += _answer_block(message)
        else:
            speaker = "You" if message["role"] == "user" else message["role"].capitalize()
            lines += [f"### {speaker}", "", message["content"], ""]
    return "\n".join(lines).rstrip() + "\n"
