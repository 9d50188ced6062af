"""Embeddings cached in SQLite by (hash of the embedded text, model).

Unchanged text is never embedded twice: not on a rescan, a rename, or an edit elsewhere in
the file. The cache also lets Chroma be rebuilt without embedding again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from itertools import islice

import numpy as np
import sqlite_utils

from cove.index.transactions import transaction

BATCH = 500


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def cached_vectors(
    db: sqlite_utils.Database, model: str, hashes: Sequence[str]
) -> dict[str, np.ndarray]:
    """hash -> vector for those of `hashes` already in the cache."""
    found: dict[str, np.ndarray] = {}
    unique = list(dict.fromkeys(hashes))
    for start in range(0, len(unique), BATCH):
        batch = unique[start : start + BATCH]
        rows = db.execute(
            f"SELECT hash, vector FROM embeddings WHERE model = ? AND hash IN "
            f"({','.join('?' * len(batch))})",
            [model, *batch],
        ).fetchall()
        for digest, blob in rows:
            found[digest] = np.frombuffer(blob, dtype=np.float32)
    return found


def embed_cached(
    db: sqlite_utils.Database,
    model: str,
    texts: Sequence[str],
    embed: Callable[[list[str]], list[list[float]] | np.ndarray],
) -> tuple[np.ndarray, int]:
    """Vectors for `texts` (float32, one row each) and how many had to be embedded now."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32), 0
    batcher = CachedEmbedding(db, model, embed, batch_size=len(texts))
    batcher.add(texts)
    batcher.flush()
    return batcher.vectors(texts), batcher.embedded


class CachedEmbedding:
    """Vectors for texts handed over a few at a time, as their files are chunked.

    Cached texts are looked up as they arrive; the others wait until `batch_size` of them
    can go to `embed` at once (the encoder's efficient batch), and each batch is written
    to the cache straight away. Call `flush` for the last, partial batch, then `vectors`.
    """

    def __init__(
        self,
        db: sqlite_utils.Database,
        model: str,
        embed: Callable[[list[str]], list[list[float]] | np.ndarray],
        batch_size: int,
    ) -> None:
        self.db = db
        self.model = model
        self.embed = embed
        self.batch_size = max(1, batch_size)
        self.embedded = 0
        self._vectors: dict[str, np.ndarray] = {}
        self._waiting: dict[str, str] = {}  # hash -> text, in arrival order

    def add(self, texts: Sequence[str]) -> None:
        """Take `texts` in; embeds as many full batches as are waiting."""
        hashes = [text_hash(t) for t in texts]
        unknown = [h for h in dict.fromkeys(hashes) if h not in self._vectors]
        self._vectors.update(cached_vectors(self.db, self.model, unknown))
        for digest, text in zip(hashes, texts, strict=True):
            if digest not in self._vectors:
                self._waiting.setdefault(digest, text)
        while len(self._waiting) >= self.batch_size:
            self._embed_next()

    def flush(self) -> None:
        """Embed whatever is still waiting."""
        while self._waiting:
            self._embed_next()

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, in order; every text must have been added and flushed."""
        return np.stack([self._vectors[text_hash(t)] for t in texts])

    def _embed_next(self) -> None:
        batch = dict(islice(self._waiting.items(), self.batch_size))
        fresh = np.asarray(self.embed(list(batch.values())), dtype=np.float32)
        rows = [(h, self.model, v.tobytes()) for h, v in zip(batch, fresh, strict=True)]
        with transaction(self.db):
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO embeddings (hash, model, vector) VALUES (?, ?, ?)", rows
            )
        for digest, vector in zip(batch, fresh, strict=True):
            del self._waiting[digest]
            self._vectors[digest] = vector
        self.embedded += len(batch)
