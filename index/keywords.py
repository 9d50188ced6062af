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


def content_words(text: str) -> list[str]:
    """The query's distinct words, lower-cased, stop words dropped unless nothing is left."""
    words = list(dict.fromkeys(w.lower() for w in WORD.findall(text)))
    return [w for w in words if w not in STOPWORDS] or words


def fts_query(text: str, operator: str = "OR") -> str | None:
    """A safe FTS5 query: every word quoted (no operator injection), joined by `operator`
    (OR: any word may match; AND: all must)."""
    words = content_words(text)
    if not words:
        return None
    return f" {operator} ".join(f'"{w}"' for w in words)


def bm25_search(db: sqlite_utils.Database, query: str, limit: int) -> list[tuple[int, float]]:
    """(chunk id, BM25 score, higher is better) over live chunks, best first.

    Chunks holding every word are ranked first; only when fewer than `limit` of them exist
    does the search widen to chunks holding any word. FTS5 scores every row its query
    matches, so at 100k chunks the any-word query over a common term cost 4-5x the
    all-words one, and when `limit` chunks hold every word they are the ones BM25 would
    rank first anyway, bar a rare word dominating a short chunk.
    """
    if not content_words(query):
        return []
    if len(content_words(query)) > 1:
        rows = _ranked(db, fts_query(query, "AND"), limit)
        if len(rows) >= limit:
            return rows
    return _ranked(db, fts_query(query, "OR"), limit)


def _ranked(db: sqlite_utils.Database, match: str | None, limit: int) -> list[tuple[int, float]]:
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
