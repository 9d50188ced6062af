"""Exact nearest neighbours in memory: the same answers as a full sort, kept in step with
adds, replacements and deletes; and the vector store answering from it."""

from __future__ import annotations

import numpy as np

from cove.index.exact_vectors import ExactIndex
from cove.index.vectors import VectorStore, persistent_client


def _unit(rng: np.random.Generator, n: int, dimension: int = 16) -> np.ndarray:
    vectors = rng.normal(size=(n, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _brute(ids: list[int], vectors: np.ndarray, query: np.ndarray, n: int) -> list[int]:
    scores = vectors @ query
    return [ids[i] for i in sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))[:n]]


def test_the_nearest_are_those_a_full_sort_finds():
    rng = np.random.default_rng(1)
    vectors = _unit(rng, 500)
    index = ExactIndex()
    index.add(list(range(500)), vectors)
    for query in _unit(rng, 5):
        found = index.query(query, 20)
        assert [i for i, _ in found] == _brute(list(range(500)), vectors, query, 20)
        assert np.isclose(found[0][1], float(vectors[found[0][0]] @ query), atol=1e-5)
    assert len(index.query(vectors[0], 1000)) == 500


def test_adds_replacements_and_deletes_stay_in_step():
    rng = np.random.default_rng(2)
    vectors = _unit(rng, 300)
    index = ExactIndex()
    index.add(list(range(0, 200)), vectors[:200])
    index.add(list(range(100, 300)), vectors[100:])  # 100..199 replaced by the same rows
    index.delete([*range(0, 300, 3), 10_000])  # an unknown id is ignored
    kept = [i for i in range(300) if i % 3]
    assert len(index) == len(kept)
    for query in _unit(rng, 5):
        found = [i for i, _ in index.query(query, 30)]
        assert found == _brute(kept, vectors[kept], query, 30)
    index.add([1], -vectors[1:2])  # a replaced vector is what is searched
    assert index.query(-vectors[1], 1)[0][0] == 1


def test_the_store_answers_exactly_and_follows_its_writes(tmp_path):
    rng = np.random.default_rng(3)
    vectors = _unit(rng, 400)
    store = VectorStore(persistent_client(str(tmp_path / "chroma")), "cove-test-16")
    store.add(list(range(200)), vectors[:200], [1] * 200)
    query = vectors[7]
    assert [i for i, _ in store.query(query, 10)] == _brute(
        list(range(200)), vectors[:200], query, 10
    )
    store.add(list(range(200, 400)), vectors[200:], [2] * 200)  # after the first query
    store.delete([7])
    kept = [i for i in range(400) if i != 7]
    assert [i for i, _ in store.query(query, 10)] == _brute(kept, vectors[kept], query, 10)
    store.reset()
    assert store.query(query, 10) == []
