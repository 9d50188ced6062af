"""Embeddings cached in SQLite by (hash of the embedded text, model).

Unchanged text is never embedded twice: not on a rescan, a rename, or an edit elsewhere in
the file. The cache also lets Chroma be rebuilt without embedding again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np
import sqlite_utils

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
    hashes = [text_hash(t) for t in texts]
    found = cached_vectors(db, model, hashes)
    missing = {h: t for h, t in zip(hashes, texts, strict=True) if h not in found}
    if missing:
        fresh = np.asarray(embed(list(missing.values())), dtype=np.float32)
        rows = [(h, model, v.tobytes()) for h, v in zip(missing, fresh, strict=True)]
        db.execute("BEGIN IMMEDIATE")
        try:
            db.conn.executemany(
                "INSERT OR REPLACE INTO embeddings (hash, model, vector) VALUES (?, ?, ?)", rows
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        found.update(zip(missing, fresh, strict=True))
    if not texts:
        return np.zeros((0, 0), dtype=np.float32), 0
    return np.stack([found[h] for h in hashes]), len(missing)
