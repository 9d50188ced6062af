"""BM25 over chunk text with SQLite FTS5 (table `chunks_fts`, kept in step by triggers),
and the segmentation FTS5 needs for scripts written without spaces between words."""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlite_utils

# Scripts FTS5's unicode61 tokenizer would keep as one token per run of letters: a Korean
# word carries its particles (버전은, 버전입니다), Chinese and Japanese have no spaces at all.
# Each run is indexed and searched as overlapping character pairs, which on a Korean FAQ
# raised BM25's nDCG from 0.447 (whole words) to 0.535 (issue 16).
HANGUL = "\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff"
HAN_KANA = (
    "\u3005\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\uff66-\uff9f\U00020000-\U0003134f"
)
SOUTHEAST_ASIAN = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff"  # Thai, Lao, Myanmar, Khmer
UNSPACED = HANGUL + HAN_KANA + SOUTHEAST_ASIAN
SCRIPT_RUN = re.compile(
    f"(?P<hangul>[{HANGUL}]+)|(?P<han_kana>[{HAN_KANA}]+)|(?P<southeast_asian>[{SOUTHEAST_ASIAN}]+)"
    f"|(?P<word>[^\\W{UNSPACED}]+)"
)
HAS_UNSPACED = re.compile(f"[{UNSPACED}]")
UNSPACED_RUN = re.compile(f"[{HANGUL}]+|[{HAN_KANA}]+|[{SOUTHEAST_ASIAN}]+")
LATIN_LETTERS = "A-Za-z\u00c0-\u024f\u1e00-\u1eff"
LATIN = re.compile(f"[{LATIN_LETTERS}\\d_\u0300-\u036f]+")
SCRIPT_PRESENT = {
    "hangul": re.compile(f"[{HANGUL}]"),
    "han_kana": re.compile(f"[{HAN_KANA}]"),
    "southeast_asian": re.compile(f"[{SOUTHEAST_ASIAN}]"),
    "latin": re.compile(f"[{LATIN_LETTERS}]"),
    "other": re.compile(f"[^\\W\\d_{LATIN_LETTERS}{UNSPACED}]"),
}
# A strong lexical match (search.py): the best keyword hit holds a query term that at most
# RARE_DF chunks hold, and scores at least TOP_MARGIN times the second hit.
RARE_DF = 3
TOP_MARGIN = 1.5
# An exact phrase (search.py): a query of 2..PHRASE_TERMS terms found verbatim, or as a
# phrase of its terms, in at most PHRASE_MAX chunks. Longer queries are questions, not
# phrases, and their phrase lookup would walk the position lists of every common word.
PHRASE_TERMS = 8
PHRASE_MAX = 10
PHRASE_SCAN = 100  # phrase hits read to find the verbatim ones among them

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


def pairs(run: str) -> list[str]:
    """Overlapping character pairs of a run (a run of one character is itself)."""
    return [run[i : i + 2] for i in range(max(len(run) - 1, 1))]


def script_words(text: str) -> list[tuple[str, str | None]]:
    """(word, script) in order: runs of an unspaced script apart from the words around
    them, with their script's name; other words with None when they hold a letter and
    "number" when they don't."""
    found = []
    for match in SCRIPT_RUN.finditer(text):
        word = match.group()
        if match.lastgroup != "word":
            found.append((word, match.lastgroup))
        elif not any(c.isalpha() for c in word):
            found.append((word, "number"))
        else:
            found.append((word, "latin" if LATIN.fullmatch(word) else "other"))
    return found


def script_share(query: str, texts: Sequence[str]) -> float:
    """The share of the query's words (numbers aside) whose script occurs in `texts`; 1.0
    for a query of numbers alone. A Korean question over English notes can only match
    them by its numbers or loan words, so keyword search has nothing to say about it."""
    scripts = [script for _, script in script_words(query) if script != "number"]
    if not scripts:
        return 1.0
    present = {s for s in set(scripts) if any(SCRIPT_PRESENT[s].search(t) for t in texts)}
    return sum(s in present for s in scripts) / len(scripts)


def terms(text: str) -> list[str]:
    """The words FTS5 indexes and searches: unspaced runs cut into overlapping pairs."""
    out: list[str] = []
    for word, script in script_words(text):
        out.extend(pairs(word) if script in ("hangul", "han_kana", "southeast_asian") else [word])
    return out


def segment(text: str) -> str | None:
    """`text` as FTS5 should index it: each unspaced run replaced by its pairs, the rest
    untouched (porter stemming still sees English words as written); None when nothing
    needs segmenting, so the raw text is indexed."""
    if not HAS_UNSPACED.search(text):
        return None
    return UNSPACED_RUN.sub(lambda m: f" {' '.join(pairs(m.group()))} ", text)


def fts_columns(text: str, heading: Sequence[str]) -> tuple[str | None, str | None]:
    """(fts_text, fts_heading) for a chunk row: what `chunks_fts` indexes in place of its
    text and heading, None where the raw column serves (the heading column is JSON with
    non-ASCII escaped, so any non-ASCII heading is given in plain text)."""
    joined = " / ".join(heading)
    plain_heading = None
    if not joined.isascii():
        plain_heading = segment(joined) or joined
    return segment(text), plain_heading


def _distinct_content(words: list[str]) -> list[str]:
    words = list(dict.fromkeys(w.lower() for w in words))
    return [w for w in words if w not in STOPWORDS] or words


def query_terms(text: str) -> list[str]:
    """The text's distinct words as FTS5 holds them (unspaced runs cut into pairs, `terms`),
    lower-cased, stop words dropped unless nothing is left."""
    return _distinct_content(terms(text))


def fts_query(text: str, operator: str = "OR") -> str | None:
    """A safe FTS5 query: every word quoted (no operator injection), joined by `operator`
    (OR: any word may match; AND: all must)."""
    words = query_terms(text)
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
    if not query_terms(query):
        return []
    if len(query_terms(query)) > 1:
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


def phrase_query(text: str) -> str | None:
    """The FTS5 phrase of every term of `text` in order (`--show-toplevel` → "show
    toplevel", a Korean phrase → its character pairs), or None for fewer than 2 terms or
    more than PHRASE_TERMS."""
    words = [w.lower() for w in terms(text)]
    if not 2 <= len(words) <= PHRASE_TERMS:
        return None
    return '"' + " ".join(words) + '"'


def phrase_hits(db: sqlite_utils.Database, query: str) -> list[tuple[int, float]]:
    """(chunk id, BM25 score) of the live chunks that hold the whole query, best first: those
    that hold it verbatim (`--show-toplevel` as written) when 1..PHRASE_MAX do, else those
    that hold its terms as a phrase (`show toplevel`, `show-toplevel`) when 1..PHRASE_MAX
    do, else none. An option name, a config key or a Korean phrase found as written is what
    the user asked for, even where BM25 over its separate words prefers another chunk."""
    match = phrase_query(query)
    if match is None:
        return []
    rows = _ranked(db, match, PHRASE_SCAN)
    literal = " ".join(query.split()).casefold()
    texts = dict(
        db.execute(
            f"SELECT id, text FROM chunks WHERE id IN ({','.join('?' * len(rows))})",
            [i for i, _ in rows],
        ).fetchall()
    )
    verbatim = [r for r in rows if literal in " ".join(texts[r[0]].split()).casefold()]
    for found in (verbatim, rows):
        if 1 <= len(found) <= PHRASE_MAX:
            return found
    return []


def strong_match(db: sqlite_utils.Database, query: str, hits: Sequence[tuple[int, float]]) -> bool:
    """Whether BM25's first hit is a strong lexical match: it clearly outscores the second
    and holds a rare query term (a made-up code word, an error number, a name). A Korean,
    Chinese or Japanese word is looked up whole, as the phrase of its character pairs: its
    pairs alone are common syllables."""
    if not hits or (len(hits) > 1 and hits[0][1] < TOP_MARGIN * hits[1][1]):
        return False
    top = hits[0][0]
    for match in _lookups(query):
        rows = db.execute(
            "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? LIMIT ?", [match, RARE_DF + 1]
        ).fetchall()
        if len(rows) <= RARE_DF and any(r[0] == top for r in rows):
            return True
    return False


def _lookups(query: str) -> list[str]:
    """FTS5 queries for the query's terms: a word of a spaced script as itself, a run of an
    unspaced one (two characters or more) as the phrase of its pairs."""
    found: list[str] = []
    for word, script in script_words(query):
        if script in ("hangul", "han_kana", "southeast_asian"):
            if len(word) > 1:
                found.append('"' + " ".join(pairs(word)) + '"')
        elif word.lower() not in STOPWORDS:
            found.append(f'"{word.lower()}"')
    return list(dict.fromkeys(found))
