"""Chroma as the vector store: a derived index of chunk vectors, keyed by chunk id.

The daemon is Chroma's only writer. `chromadb.PersistentClient` keeps it in COVE_HOME/chroma;
`chromadb.HttpClient` points the same code at a Chroma server.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cove.index.exact_vectors import EXACT_MAX_VECTORS, ExactIndex

log = logging.getLogger("cove.vectors")


def collection_name(model: str, dimension: int) -> str:
    """One collection per embedding model, so a model change builds a new one beside the old."""
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", model).strip("-").lower()[:40] or "model"
    return f"cove-{slug}-{dimension}"


def persistent_client(path: str):
    import chromadb
    from chromadb.config import Settings

    return chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))


def http_client(host: str, port: int):
    import chromadb
    from chromadb.config import Settings

    return chromadb.HttpClient(host=host, port=port, settings=Settings(anonymized_telemetry=False))


def fresh_persistent_client(path: Path, old: Any = None):
    """An empty store at `path` in place of a damaged one (closed first, then deleted:
    Chroma is derived from cove.db, so a rebuild restores everything it held)."""
    from chromadb.api.shared_system_client import SharedSystemClient

    if old is not None:
        try:
            old.close()
        except Exception:  # noqa: BLE001 - a damaged store may not close cleanly
            log.warning("the damaged vector store did not close", exc_info=True)
    # Chroma caches a client's system by path, even one that failed to start or close: the
    # next client for this path would be handed it. The daemon has no other Chroma client.
    SharedSystemClient.clear_system_cache()
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return persistent_client(str(path))


def open_persistent_store(path: Path, name: str) -> VectorStore:
    """The store in COVE_HOME/chroma. One Chroma cannot open (its files damaged) is
    replaced by an empty one, which the start-up repair fills again from cove.db."""

    def recreate(old: Any):
        return fresh_persistent_client(path, old)

    try:
        return VectorStore(persistent_client(str(path)), name, recreate)
    except Exception:  # noqa: BLE001 - whatever Chroma raises, the answer is the same
        log.exception("cannot open the vector store in %s; starting it afresh", path)
        return VectorStore(recreate(None), name, recreate)


class VectorStore:
    """One Chroma collection of unit vectors under cosine distance. Chroma keeps them; up to
    EXACT_MAX_VECTORS, queries are answered exactly from a copy in memory (exact_vectors.py),
    loaded at the first query and kept in step by `add` and `delete`."""

    def __init__(self, client, name: str, recreate: Callable[[Any], Any] | None = None) -> None:
        """`recreate(client)` closes a damaged store and returns a client of an empty one
        (see `fresh_persistent_client`); without it (a Chroma server) `reset` may raise."""
        self.client = client
        self.name = name
        self._recreate = recreate
        self._collection = self._create()
        self._max_batch = int(getattr(client, "get_max_batch_size", lambda: 5000)())
        self._exact: ExactIndex | None = None
        self._exact_lock = threading.Lock()
        self._exact_off = False  # too many vectors, or Chroma could not hand them over

    def add(self, ids: Sequence[int], vectors: np.ndarray, file_ids: Sequence[int]) -> None:
        for start in range(0, len(ids), self._max_batch):
            end = start + self._max_batch
            self._collection.upsert(
                ids=[str(i) for i in ids[start:end]],
                embeddings=np.asarray(vectors[start:end], dtype=np.float32),
                metadatas=[{"file_id": int(f)} for f in file_ids[start:end]],
            )
        with self._exact_lock:
            if self._exact is not None:
                self._exact.add(ids, vectors)
                if len(self._exact) > EXACT_MAX_VECTORS:
                    self._exact, self._exact_off = None, True

    def delete(self, ids: Sequence[int]) -> None:
        for start in range(0, len(ids), self._max_batch):
            self._collection.delete(ids=[str(i) for i in ids[start : start + self._max_batch]])
        with self._exact_lock:
            if self._exact is not None:
                self._exact.delete(ids)

    def query(self, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity), best first."""
        exact = self._exact_index()
        if exact is not None:
            return exact.query(vector, n)
        # No count() first: it cost 11-16 ms per query at 100k chunks, and Chroma already
        # answers with fewer results (or none) when the collection holds fewer than n.
        found = self._collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=n,
            include=["distances"],
        )
        return [
            (int(i), 1.0 - float(d))
            for i, d in zip(found["ids"][0], found["distances"][0], strict=True)
        ]

    def _exact_index(self) -> ExactIndex | None:
        """The in-memory copy, read from Chroma the first time; None above the size limit."""
        with self._exact_lock:
            if self._exact is None and not self._exact_off:
                try:
                    if self._collection.count() > EXACT_MAX_VECTORS:
                        self._exact_off = True
                    else:
                        self._exact = ExactIndex()
                        for page in self._pages(["embeddings"]):
                            ids = [int(i) for i in page["ids"]]
                            self._exact.add(ids, np.asarray(page["embeddings"]))
                except Exception:  # noqa: BLE001 - Chroma's own search still answers
                    log.warning("cannot read the vectors for exact search", exc_info=True)
                    self._exact, self._exact_off = None, True
            return self._exact

    def _forget_exact(self) -> None:
        with self._exact_lock:
            self._exact, self._exact_off = None, False

    def ids(self) -> set[int]:
        return {int(i) for page in self._pages([]) for i in page["ids"]}

    def _pages(self, include: list[str], size: int = 10_000) -> Iterator[dict]:
        """The whole collection, `size` rows at a time, with the fields in `include`."""
        offset = 0
        while True:
            page = self._collection.get(include=include, limit=size, offset=offset)
            yield page
            if len(page["ids"]) < size:
                return
            offset += size

    def count(self) -> int:
        return self._collection.count()

    def verify(self) -> None:
        """Raise unless the collection answers a query in full: Chroma files damaged on disk
        (by a full disk, a crash) can leave it counting vectors it cannot search."""
        count = self._collection.count()
        if not count:
            return
        sample = self._collection.get(limit=1, include=["embeddings"])
        wanted = min(count, 10)
        found = self._collection.query(
            query_embeddings=[np.asarray(sample["embeddings"][0], dtype=np.float32)],
            n_results=wanted,
            include=["distances"],
        )
        if len(found["ids"][0]) < wanted:
            raise RuntimeError(
                f"the vector store is damaged: it holds {count} vectors but a query found "
                f"{len(found['ids'][0])} of {wanted}"
            )

    def reset(self) -> None:
        """Start the collection afresh, empty. Where Chroma cannot drop it (damaged files),
        the whole store is replaced with an empty one, if this store may (`recreate`)."""
        try:
            names = {getattr(c, "name", c) for c in self.client.list_collections()}
            if self.name in names:
                self.client.delete_collection(self.name)
            self._forget_exact()
            self._collection = self._create()
            self.verify()
        except Exception:
            if self._recreate is None:
                raise
            log.warning("cannot drop collection %s; replacing the store", self.name, exc_info=True)
            self.client = self._recreate(self.client)
            self._forget_exact()
            self._collection = self._create()

    def _create(self):
        return self.client.get_or_create_collection(
            self.name, configuration={"hnsw": {"space": "cosine"}}
        )

    def drop_others(self, prefix: str = "cove-") -> list[str]:
        """Delete the other collections Cove made (those of earlier embedding models)."""
        dropped = []
        for collection in self.client.list_collections():
            name = getattr(collection, "name", collection)
            if name.startswith(prefix) and name != self.name:
                self.client.delete_collection(name)
                dropped.append(name)
        return dropped

    def drop(self) -> None:
        self.client.delete_collection(self.name)
        self._forget_exact()
