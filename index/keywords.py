"""BM25 over chunk text with SQLite FTS5 (table `chunks_fts`, kept in step by triggers)."""

from __future__ import annotations

import re

import sqlite_utils

WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str | None:
    """A safe FTS5 query: every word quoted (no operator injection), any word may match."""
    words = list(dict.fromkeys(w.lower() for w in WORD.findall(text)))
    if not words:
        return None
    return " OR ".join(f'"{w}"' for w in words)


def bm25_search(db: sqlite_utils.Database, query: str, limit: int) -> list[tuple[int, float]]:
    """(chunk id, BM25 score, higher is better) over live chunks, best first."""
    match = fts_query(query)
    if match is None:
        return []
    rows = db.execute(
        "SELECT chunks.id, -bm25(chunks_fts, 1.0, 0.5) AS score FROM chunks_fts "
        "JOIN chunks ON chunks.id = chunks_fts.rowid "
        "JOIN files ON files.id = chunks.file_id AND files.generation = chunks.generation "
        "WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts, 1.0, 0.5) LIMIT ?",
        [match, limit],
    ).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]
