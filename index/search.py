"""Hybrid search: dense (Chroma) and BM25 (FTS5) candidates, fused by weighted reciprocal
rank fusion, diversified by MMR, optionally reranked by a cross-encoder, cut to top-k.

Fusion adapts to each query so that keywords never make it worse than dense search alone:
the BM25 weight is scaled by the share of the query's words whose script occurs in the
keyword hits (a Korean question over English notes: zero, the dense order), and a strong
lexical match (BM25's first hit holds a rare query term and clearly outscores the second)
goes first, which RRF alone never did: BM25's rank 1 scored 0.5/61, below dense's rank 50.
So do the few chunks that hold a short query whole, as a phrase (an option name, a config
key, a Korean phrase): their words apart are common, so BM25 alone may rank others first.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlite_utils

from cove.index.embedcache import cached_vectors
from cove.index.keywords import bm25_search, phrase_hits, script_share, strong_match
from cove.index.manifest import live_chunks
from cove.index.vectors import VectorStore

log = logging.getLogger("cove.search")

Reranker = Callable[[str, list[str]], Sequence[float]]


@dataclass(frozen=True)
class SearchParams:
    """Knobs of the pipeline. A weight of 0 switches that retriever off; `mmr_lambda` of
    None (or 1.0) switches MMR off. Defaults are set by `cove eval retrieval` (README)."""

    k: int = 8
    candidates: int = 50
    dense_weight: float = 1.0
    bm25_weight: float = 0.5
    rrf_k: int = 60
    mmr_lambda: float | None = None
    mmr_pool: int = 30
    # False: plain weighted RRF, as before issue 16 (for measurement: bench/exact.py).
    adaptive_fusion: bool = True


@dataclass
class SearchHit:
    chunk_id: int
    path: str
    heading: list[str]
    page: int | None
    line_start: int | None
    line_end: int | None
    text: str
    scores: dict[str, float | None] = field(default_factory=dict)

    def as_dict(self, rank: int) -> dict:
        """The `cove search --json` result shape (design.md)."""
        return {
            "rank": rank,
            "path": self.path,
            "heading": self.heading,
            "page": self.page,
            "line_start": self.line_start,
            "line_end": self.line_end,
            "text": self.text,
            "scores": self.scores,
        }


def rrf(rankings: Sequence[tuple[Sequence[int], float]], k: int) -> dict[int, float]:
    """Weighted reciprocal rank fusion: sum of weight / (k + rank) over the rankings."""
    fused: dict[int, float] = {}
    for ids, weight in rankings:
        if weight <= 0:
            continue
        for rank, chunk_id in enumerate(ids, start=1):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (k + rank)
    return fused


def pin(fused: dict[int, float], pinned: Sequence[int], step: float) -> None:
    """Score `pinned` above every other fused candidate, in their order (a strong lexical
    match, exact phrase hits)."""
    top = max((v for i, v in fused.items() if i not in pinned), default=0.0)
    for place, chunk_id in enumerate(pinned):
        fused[chunk_id] = top + (len(pinned) - place) * step


def mmr(
    ids: Sequence[int],
    relevance: dict[int, float],
    vectors: dict[int, np.ndarray],
    lam: float,
    k: int,
) -> list[int]:
    """Maximal marginal relevance: trade relevance against similarity to what is chosen."""
    top = max((relevance[i] for i in ids), default=1.0) or 1.0
    remaining = [i for i in ids if i in vectors]
    chosen: list[int] = []
    while remaining and len(chosen) < k:

        def value(i: int) -> float:
            redundancy = max((float(vectors[i] @ vectors[j]) for j in chosen), default=0.0)
            return lam * relevance[i] / top - (1 - lam) * redundancy

        best = max(remaining, key=value)
        chosen.append(best)
        remaining.remove(best)
    return chosen + [i for i in ids if i not in vectors][: k - len(chosen)]


class _BackgroundCall(threading.Thread):
    """Run `work` on a thread; `result()` joins it and returns or re-raises."""

    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self._work = work
        self._value: Any = None
        self._error: BaseException | None = None

    def run(self) -> None:
        try:
            self._value = self._work()
        except BaseException as error:  # handed to the caller by result()
            self._error = error

    def result(self) -> Any:
        self.join()
        if self._error is not None:
            raise self._error
        return self._value


def hybrid_search(
    db: sqlite_utils.Database,
    store: VectorStore | None,
    model: str,
    query: str,
    query_vector: np.ndarray | None,
    params: SearchParams,
    rerank: Reranker | None = None,
) -> list[SearchHit]:
    """Search live chunks. `db` should be a connection no other thread is using: the
    retrievers and the chunk lookup run in one read transaction (one snapshot)."""
    use_dense = params.dense_weight > 0 and store is not None and query_vector is not None
    # The kNN runs on its own thread while FTS5 ranks on this one: both release the GIL,
    # so the two retrievers cost about the slower of them rather than their sum.
    dense_query = _BackgroundCall(lambda: store.query(query_vector, params.candidates * 2))
    if use_dense:
        dense_query.start()
    db.execute("BEGIN")
    try:
        bm25 = bm25_search(db, query, params.candidates) if params.bm25_weight > 0 else []
        try:
            dense = dense_query.result() if use_dense else []
        except Exception as exc:  # noqa: BLE001 - Chroma full or damaged: keywords still answer
            log.warning("dense search failed (%s); keyword search answers alone", exc)
            dense = []
        phrase = phrase_hits(db, query) if params.adaptive_fusion and bm25 else []
        chunks = live_chunks(db, list({i for i, _ in dense + bm25 + phrase}))
        bm25_weight, pinned = params.bm25_weight, [i for i, _ in phrase]
        if params.adaptive_fusion and dense:  # keywords alone are kept whatever the script
            bm25_weight *= script_share(query, [chunks[i]["text"] for i, _ in bm25])
            if not pinned and bm25_weight > 0 and strong_match(db, query, bm25):
                pinned = [bm25[0][0]]
        need_vectors = params.mmr_lambda is not None and params.mmr_lambda < 1.0
        by_hash = (
            cached_vectors(db, model, [c["embed_hash"] for c in chunks.values()])
            if need_vectors
            else {}
        )
    finally:
        db.execute("COMMIT")
    # Vectors of replaced generations may still be in Chroma for a moment: keep live ones.
    dense = [(i, s) for i, s in dense if i in chunks][: params.candidates]
    pinned = [i for i in pinned if i in chunks]
    dense_scores, bm25_scores = dict(dense), {**dict(phrase), **dict(bm25)}
    fused = rrf(
        [([i for i, _ in dense], params.dense_weight), ([i for i, _ in bm25], bm25_weight)],
        params.rrf_k,
    )
    pin(fused, pinned, params.bm25_weight / (params.rrf_k + 1))
    ranked = sorted(fused, key=lambda i: fused[i], reverse=True)
    if need_vectors:
        pool = ranked[: max(params.mmr_pool, params.k)]
        vectors = {
            i: by_hash[chunks[i]["embed_hash"]] for i in pool if chunks[i]["embed_hash"] in by_hash
        }
        ranked = mmr(pool, fused, vectors, float(params.mmr_lambda), params.k)
    rerank_scores: dict[int, float] = {}
    if rerank is not None and ranked:
        pool = ranked[: max(params.k * 3, params.k)]
        scores = rerank(query, [chunks[i]["text"] for i in pool])
        rerank_scores = {i: float(s) for i, s in zip(pool, scores, strict=True)}
        ranked = sorted(pool, key=lambda i: rerank_scores[i], reverse=True)
        kept = [i for i in pinned if i not in ranked[: params.k]][: params.k]
        ranked = [i for i in ranked if i not in kept]
        ranked[params.k - len(kept) : params.k - len(kept)] = kept
    return [
        SearchHit(
            chunk_id=i,
            path=chunks[i]["path"],
            heading=chunks[i]["heading"],
            page=chunks[i]["page"],
            line_start=chunks[i]["line_start"],
            line_end=chunks[i]["line_end"],
            text=chunks[i]["text"],
            scores={
                "dense": dense_scores.get(i),
                "bm25": bm25_scores.get(i),
                "fused": fused[i],
                "rerank": rerank_scores.get(i),
            },
        )
        for i in ranked[: params.k]
    ]
