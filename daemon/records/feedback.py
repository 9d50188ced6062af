"""Feedback on the assistant's answers: a rating ('up' or 'down') and/or a correction.

Rated-up answers and corrected answers become training examples for personal
fine-tuning (`training_examples`); a correction is the answer the user wanted.
"""

from __future__ import annotations

import time

import sqlite_utils

from cove.daemon.records.sessions import MessageNotFoundError

RATINGS = ("up", "down")


class FeedbackError(ValueError):
    """Feedback that cannot be recorded (bad rating, nothing given, not an answer)."""


def _assistant_message(db: sqlite_utils.Database, message_id: str) -> dict:
    rows = list(db.query("SELECT id, role FROM messages WHERE id = ?", [message_id]))
    if not rows:
        raise MessageNotFoundError(f"no message {message_id!r}: see `cove sessions show ID`")
    if rows[0]["role"] != "assistant":
        raise FeedbackError(
            f"message {message_id!r} is a {rows[0]['role']} message: feedback is for "
            "the assistant's answers"
        )
    return rows[0]


def get_feedback(db: sqlite_utils.Database, message_id: str) -> dict | None:
    """The feedback on a message, or None if it has none."""
    rows = list(db.query("SELECT * FROM feedback WHERE message_id = ?", [message_id]))
    return rows[0] if rows else None


def set_feedback(
    db: sqlite_utils.Database,
    message_id: str,
    rating: str | None = None,
    correction: str | None = None,
) -> dict:
    """Rate an answer and/or correct it; returns the stored feedback.

    A value left as None keeps what was stored before, so `rating="down"` then
    `correction="..."` leaves a rated-down, corrected answer. `delete_feedback` clears both.
    """
    if rating is not None and rating not in RATINGS:
        raise FeedbackError(f"a rating is 'up' or 'down', not {rating!r}")
    if correction is not None:
        correction = correction.strip()
        if not correction:
            raise FeedbackError("a correction cannot be empty")
    if rating is None and correction is None:
        raise FeedbackError("give a rating ('up' or 'down'), a correction, or both")
    _assistant_message(db, message_id)
    now = time.time()
    db.execute(
        """INSERT INTO feedback (message_id, rating, correction, created_at, updated_at)
           VALUES (:id, :rating, :correction, :now, :now)
           ON CONFLICT (message_id) DO UPDATE SET
             rating = COALESCE(excluded.rating, rating),
             correction = COALESCE(excluded.correction, correction),
             updated_at = excluded.updated_at""",
        {"id": message_id, "rating": rating, "correction": correction, "now": now},
    )
    return get_feedback(db, message_id)


def delete_feedback(db: sqlite_utils.Database, message_id: str) -> bool:
    """Clear a message's rating and correction; False if it had none."""
    _assistant_message(db, message_id)
    return db.execute("DELETE FROM feedback WHERE message_id = ?", [message_id]).rowcount > 0


def clear_correction(db: sqlite_utils.Database, message_id: str) -> bool:
    """Drop a message's correction, keeping its rating; False if it had none."""
    rows = list(
        db.query("SELECT rating, correction FROM feedback WHERE message_id = ?", [message_id])
    )
    if not rows or rows[0]["correction"] is None:
        return False
    if rows[0]["rating"] is None:
        db.execute("DELETE FROM feedback WHERE message_id = ?", [message_id])
    else:
        db.execute(
            "UPDATE feedback SET correction = NULL, updated_at = ? WHERE message_id = ?",
            [time.time(), message_id],
        )
    return True


TRAINING_SQL = """
SELECT a.id AS message_id, a.session_id, a.content AS answer, a.grounded,
       f.rating, f.correction, f.updated_at,
       (SELECT u.content FROM messages u
        WHERE u.session_id = a.session_id AND u.role = 'user'
          AND (u.created_at, u.rowid) < (a.created_at, a.rowid)
        ORDER BY u.created_at DESC, u.rowid DESC LIMIT 1) AS question
FROM messages a JOIN feedback f ON f.message_id = a.id
WHERE a.role = 'assistant' AND (f.rating = 'up' OR f.correction IS NOT NULL)
ORDER BY a.created_at, a.rowid
"""


def training_examples(db: sqlite_utils.Database) -> list[dict]:
    """Question/answer pairs the user approved or corrected, oldest first.

    Each is `{message_id, session_id, question, answer, rating, correction, target,
    grounded, updated_at}`: `question` is the user message right before the answer, `target` the
    text to learn (the correction if there is one, else the rated-up answer). Answers
    with no question before them are left out.
    """
    examples = []
    for row in db.query(TRAINING_SQL):
        if row["question"] is None:
            continue
        examples.append(
            {
                "message_id": row["message_id"],
                "session_id": row["session_id"],
                "question": row["question"],
                "answer": row["answer"],
                "rating": row["rating"],
                "correction": row["correction"],
                "target": row["correction"] if row["correction"] is not None else row["answer"],
                "grounded": bool(row["grounded"]),
                "updated_at": row["updated_at"],
            }
        )
    return examples
