"""Exact matches and cross-script queries through fusion, before and after issue 16.

Exact: N notes (default 400) of 60 words drawn from a small vocabulary, each holding one
made-up code word (four random consonant-vowel syllables, seeded); every note is
searched by its code word alone and inside a sentence ("which reference is <code>"), with
`hybrid_search` at the default `SearchParams`, adaptive fusion on (issue 16) and off (plain
weighted RRF: BM25's rank 1 scored 0.5/61, below dense's rank 50). Counts: the note first,
the note in the top k.

Cross-script: 24 English notes ("Meeting notes from 2024: ..."), a Korean question holding
the year; whether the fused order equals the dense-only order (bm25_weight 0).

The stores are built with the library (a migrated cove.db, Chroma, the default embedder),
as tests/index/test_search.py does. Writes bench/exact.json. Usage:
python bench/exact.py [--notes 400]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cove.index.embedder import Embedder, default_model_path  # noqa: E402
from cove.index.search import SearchParams, hybrid_search  # noqa: E402
from tests.index.test_search import TOPICS, _code_words, _index, _notes  # noqa: E402


def exact(embedder: Embedder, home: Path, n: int) -> dict:
    codes = _code_words(n)
    db, store, ids = _index(home, embedder, _notes(codes))
    out = {}
    for form, queries in (
        ("code", codes),
        ("sentence", [f"which reference is {c}" for c in codes]),
    ):
        vectors = embedder.embed(queries)
        for adaptive in (False, True):
            params = SearchParams(adaptive_fusion=adaptive)
            first = top_k = 0
            started = time.perf_counter()
            for query, vector, expected in zip(queries, vectors, ids, strict=True):
                hits = hybrid_search(db, store, embedder.name, query, np.asarray(vector), params)
                got = [h.chunk_id for h in hits]
                first += got[:1] == [expected]
                top_k += expected in got
            ms = (time.perf_counter() - started) / len(queries) * 1000
            out[f"{form}/{'adaptive' if adaptive else 'rrf'}"] = {
                "first": first,
                f"top{params.k}": top_k,
                "of": len(queries),
                "ms_per_query": round(ms, 2),
            }
    return out


def cross_script(embedder: Embedder, home: Path) -> dict:
    texts = [
        f"Meeting notes from {y}: the {t} budget was reviewed."
        for y in (2022, 2023, 2024)
        for t in TOPICS
    ]
    db, store, _ = _index(home, embedder, texts)
    query = "2024년 회의 메모는 어디에 있나요"
    vector = np.asarray(embedder.embed([query])[0])
    params = SearchParams(k=10)

    def order(p: SearchParams) -> list[int]:
        return [h.chunk_id for h in hybrid_search(db, store, embedder.name, query, vector, p)]

    dense = order(replace(params, bm25_weight=0))
    return {
        "query": query,
        "rrf_equals_dense": order(replace(params, adaptive_fusion=False)) == dense,
        "adaptive_equals_dense": order(params) == dense,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=400)
    args = parser.parse_args()
    embedder = Embedder(default_model_path())
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "exact").mkdir()
        (Path(tmp) / "cross").mkdir()
        result = {
            "notes": args.notes,
            "exact": exact(embedder, Path(tmp) / "exact", args.notes),
            "cross_script": cross_script(embedder, Path(tmp) / "cross"),
        }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    (ROOT / "bench" / "exact.json").write_text(
        json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    )


if __name__ == "__main__":
    main()
