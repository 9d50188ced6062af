"""Chroma as the vector store: a derived index of chunk vectors, keyed by chunk id.

The daemon is Chroma's only writer. `chromadb.PersistentClient` keeps it in COVE_HOME/chroma;
`chromadb.HttpClient` points the same code at a Chroma server.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np


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


class VectorStore:
    """One Chroma collection of unit vectors under cosine distance."""

    def __init__(self, client, name: str) -> None:
        self.client = client
        self.name = name
        self._collection = client.get_or_create_collection(
            name, configuration={"hnsw": {"space": "cosine"}}
        )
        self._max_batch = int(getattr(client, "get_max_batch_size", lambda: 5000)())

    def add(self, ids: Sequence[int], vectors: np.ndarray, file_ids: Sequence[int]) -> None:
        for start in range(0, len(ids), self._max_batch):
            end = start + self._max_batch
            self._collection.upsert(
                ids=[str(i) for i in ids[start:end]],
                embeddings=np.asarray(vectors[start:end], dtype=np.float32),
                metadatas=[{"file_id": int(f)} for f in file_ids[start:end]],
            )

    def delete(self, ids: Sequence[int]) -> None:
        for start in range(0, len(ids), self._max_batch):
            self._collection.delete(ids=[str(i) for i in ids[start : start + self._max_batch]])

    def query(self, vector: np.ndarray, n: int) -> list[tuple[int, float]]:
        """(chunk id, cosine similarity), best first."""
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

    def ids(self) -> set[int]:
        found: set[int] = set()
        offset = 0
        while True:
            page = self._collection.get(include=[], limit=10_000, offset=offset)
            found.update(int(i) for i in page["ids"])
            if len(page["ids"]) < 10_000:
                return found
            offset += 10_000

    def count(self) -> int:
        return self._collection.count()

    def reset(self) -> None:
        """Empty the collection (drop and create it again)."""
        self.client.delete_collection(self.name)
        self._collection = self.client.get_or_create_collection(
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
