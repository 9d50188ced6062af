"""BM25 over chunk text with SQLite FTS5 (table `chunks_fts`, kept in step by triggers)."""

from __future__ import annotations

import re

import sqlite_utils

WORD = re.compile(r"\w+", re.UNICODE)

# Words that match most chunks: scoring every row they match dominated BM25's latency
# (171 ms p50 at 100k chunks in bench/search.py) while adding almost nothing to the rank.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "could",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "should",
        "so",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)


def fts_query(text: str) -> str | None:
    """A safe FTS5 query: every word quoted (no operator injection), any word may match.

    Stop words are dropped unless the query has nothing else.
    """
    words = list(dict.fromkeys(w.lower() for w in WORD.findall(text)))
    content = [w for w in words if w not in STOPWORDS] or words
    if not content:
        return None
    return " OR ".join(f'"{w}"' for w in content)


def bm25_search(db: sqlite_utils.Database, query: str, limit: int) -> list[tuple[int, float]]:
    """(chunk id, BM25 score, higher is better) over live chunks, best first."""
    match = fts_query(query)
    if match is None:
        return []
    # Rank inside FTS5 first and join only the best rows: joining every match to filter
    # live generations cost more than the ranking. Superseded rows are rare and brief, so
    # a margin over `limit` keeps enough live ones.
    rows = db.execute(
        "SELECT chunks.id, -ranked.score FROM ("
        "  SELECT rowid, bm25(chunks_fts, 1.0, 0.5) AS score FROM chunks_fts"
        "  WHERE chunks_fts MATCH ? ORDER BY score LIMIT ?"
        ") AS ranked JOIN chunks ON chunks.id = ranked.rowid "
        "JOIN files ON files.id = chunks.file_id AND files.generation = chunks.generation "
        "ORDER BY ranked.score LIMIT ?",
        [match, limit * 2 + 20, limit],
    ).fetchall()
    return [(int(r[0]), float(r[1])) for r in rows]
