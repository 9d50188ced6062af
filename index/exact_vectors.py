"""Exact nearest neighbours over every vector, in memory, for the stores a person's folders
make.

Chroma's HNSW graph answers approximately, and on e5's vectors it answered badly: a Korean
question over English pages found 54% of its true 100 nearest chunks (ef_search 400: 57%;
ef_search 1000 on a rebuilt graph: 71%), and Korean questions over Korean pages 95%, which
cost 0.02-0.04 nDCG@10 (README, "Search in Korean"). Out-of-distribution queries (another
language, a short phrase) are where greedy graph search gets stuck. A matrix product over
100k unit vectors of 384 floats takes a few milliseconds and 150 MB, so up to
`EXACT_MAX_VECTORS` the exact answer is cheaper than a better graph.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

# About 380 MB of float32 at 384 dimensions; a bigger store keeps Chroma's HNSW answers.
EXACT_MAX_VECTORS = 250_000


class ExactIndex:
    """Unit vectors by chunk id; `query` is their cosine similarity to a unit vector.
    Thread-safe: the ingest thread writes while searches read."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._matrix = np.zeros((0, 0), dtype=np.float32)  # its width set by the first add
        self._ids = np.zeros(0, dtype=np.int64)
        self._rows: dict[int, int] = {}  # chunk id -> row

    def __len__(self) -> int:
        return len(self._rows)

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Insert or replace the vectors of `ids`."""
        vectors = np.asarray(vectors, dtype=np.float32)
        with self._lock:
            self._grow(len(self._rows) + len(ids), vectors.shape[1])
            for n, chunk_id in enumerate(ids):
                row = self._rows.get(int(chunk_id))
                if row is None:
                    row = self._rows[int(chunk_id)] = len(self._rows)
                    self._ids[row] = int(chunk_id)
                self._matrix[row] = vectors[n]

    def delete(self, ids: Sequence[int]) -> None:
        """Forget `ids` (unknown ones are ignored): the last row moves into each hole."""
        with self._lock:
            for chunk_id in ids:
                row = self._rows.pop(int(chunk_id), None)
                if row is None:
                    continue
                last = len(self._rows)  # the row count before this delete, minus one
                if row != last:
                    moved = int(self._ids[last])
                    self._matrix[row] = self._matrix[last]
                    self._ids[row] = moved
                    self._rows[moved] = row

    def query(self, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity) of the `n` nearest, best first (ties by id)."""
        with self._lock:
            count = len(self._rows)
            if not count or n <= 0:
                return []
            scores = self._matrix[:count] @ np.asarray(vector, dtype=np.float32)
            ids = self._ids[:count]
        best = np.argpartition(-scores, n - 1)[:n] if n < count else np.arange(count)
        order = best[np.lexsort((ids[best], -scores[best]))]
        return [(int(ids[i]), float(scores[i])) for i in order]

    def _grow(self, needed: int, dimension: int) -> None:
        if needed <= len(self._ids):
            return
        capacity = max(needed, 2 * len(self._ids), 1024)
        matrix = np.zeros((capacity, dimension), dtype=np.float32)
        ids = np.zeros(capacity, dtype=np.int64)
        if self._rows:
            matrix[: len(self._rows)] = self._matrix[: len(self._rows)]
            ids[: len(self._rows)] = self._ids[: len(self._rows)]
        self._matrix, self._ids = matrix, ids
