"""Search over the index for the API and the chat pipeline: embed the query, run the
hybrid pipeline on this thread's own read connection, report timings."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from cove.daemon.config import SearchSettings
from cove.daemon.store.db import ThreadConnections
from cove.index.embedder import Embedder
from cove.index.search import Reranker, SearchHit, SearchParams, hybrid_search
from cove.index.vectors import VectorStore


def search_params(settings: SearchSettings) -> SearchParams:
    return SearchParams(
        k=settings.k,
        candidates=settings.candidates,
        dense_weight=settings.dense_weight,
        bm25_weight=settings.bm25_weight,
        rrf_k=settings.rrf_k,
        mmr_lambda=None if settings.mmr_lambda >= 1.0 else settings.mmr_lambda,
    )


def load_reranker(model_dir: str) -> Reranker | None:
    """A cross-encoder from a local directory (none is shipped: configure one to enable)."""
    if not model_dir:
        return None
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(Path(model_dir).expanduser()), device="cpu", local_files_only=True)
    return lambda query, texts: model.predict([(query, t) for t in texts]).tolist()


class Retriever:
    def __init__(
        self,
        db_path: Path,
        store: VectorStore,
        embedder: Embedder,
        params: SearchParams,
        reranker: Reranker | None = None,
    ) -> None:
        self.db_path = db_path
        self.store = store
        self.embedder = embedder
        self.params = params
        self.reranker = reranker
        self._connections = ThreadConnections(db_path)

    def _db(self):
        return self._connections.get()

    def search(self, query: str, **overrides) -> tuple[list[SearchHit], dict[str, float]]:
        """Hits, best first, and timings: query embedding apart from the rest."""
        params = replace(self.params, **{k: v for k, v in overrides.items() if v is not None})
        started = time.perf_counter()
        vector = None
        if params.dense_weight > 0:
            vector = self.embedder.embed_query([query])[0]
        embedded = time.perf_counter()
        hits = hybrid_search(
            self._db(), self.store, self.embedder.name, query, vector, params, self.reranker
        )
        ended = time.perf_counter()
        return hits, {
            "embed_ms": round((embedded - started) * 1000, 2),
            "search_ms": round((ended - embedded) * 1000, 2),
        }
