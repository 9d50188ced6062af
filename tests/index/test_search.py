"""Fusion and diversity, as functions: RRF weights and MMR; what fusion keeps first (a rare
word, an exact phrase) and what it drops (keywords in another script)."""

from __future__ import annotations

import random
import time

import numpy as np

from cove.daemon.store import open_db
from cove.index import manifest
from cove.index.keywords import bm25_search, fts_query
from cove.index.search import SearchParams, hybrid_search, mmr, rrf
from cove.index.vectors import VectorStore, collection_name, persistent_client


def test_rrf_sums_weighted_reciprocal_ranks():
    fused = rrf([([1, 2, 3], 1.0), ([3, 1], 2.0)], k=60)
    assert fused[1] == 1 / 61 + 2 / 62
    assert fused[3] == 1 / 63 + 2 / 61
    assert fused[2] == 1 / 62


def test_a_zero_weight_switches_a_retriever_off():
    assert rrf([([1, 2], 1.0), ([3], 0.0)], k=60).keys() == {1, 2}


def test_mmr_prefers_a_diverse_second_result():
    a = np.array([1.0, 0.0])
    near_a = np.array([0.99, 0.141])
    b = np.array([0.0, 1.0])
    relevance = {1: 1.0, 2: 0.95, 3: 0.8}
    vectors = {1: a, 2: near_a / np.linalg.norm(near_a), 3: b}
    assert mmr([1, 2, 3], relevance, vectors, lam=0.5, k=2) == [1, 3]
    assert mmr([1, 2, 3], relevance, vectors, lam=1.0, k=2) == [1, 2]


def test_fts_queries_are_quoted_words_joined_by_or():
    assert fts_query('connection "pool" NEAR x*') == '"connection" OR "pool" OR "near" OR "x"'
    assert fts_query("?!") is None


def test_stop_words_are_dropped_unless_nothing_else_is_left():
    assert fts_query("how do I rebase a branch") == '"rebase" OR "branch"'
    assert fts_query("to be or not") == '"to" OR "be" OR "or" OR "not"'


# --- fusion that never hurts (issue 16) on real parts: the packaged embedder, SQLite, Chroma


def _code_words(n: int) -> list[str]:
    rng = random.Random(16)
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice("bdfgklmnprtvz") + rng.choice("aeiou") for _ in range(4)))
    return sorted(words)


def _index(tmp_path, embedder, texts: list[str]):
    """A live index of one chunk per text; returns (db, store, chunk ids in order)."""
    db = open_db(tmp_path / "cove.db")
    folder = manifest.add_folder(db, str(tmp_path / "docs"))
    file_id = manifest.record_file(
        db, folder["id"], str(tmp_path / "docs" / "notes.md"), status="indexing", size=1, mtime=1
    )
    rows = [{"text": t, "heading": [], "embed_hash": f"h{i}"} for i, t in enumerate(texts)]
    generation, ids = manifest.write_generation(db, file_id, rows)
    manifest.make_live(
        db,
        file_id,
        generation,
        size=1,
        mtime=time.time(),
        content_hash="h",
        file_format="md",
        chunk_count=len(ids),
    )
    store = VectorStore(
        persistent_client(str(tmp_path / "chroma")),
        collection_name(embedder.name, embedder.dimension),
    )
    store.add(ids, np.asarray(embedder.embed(texts), dtype=np.float32), [file_id] * len(ids))
    return db, store, ids


TOPICS = ["garden", "invoice", "holiday", "server", "recipe", "meeting", "car", "book"]
# Notes of 60 words drawn from a small vocabulary, each with its code word somewhere inside:
# varied enough that dense search alone misses many code words, and weighted RRF kept
# BM25's only hit below dense's 50 candidates.
VOCABULARY = str.split(
    "beautiful better ugly explicit implicit simple complex complicated flat nested sparse "
    "dense readability counts special cases rules practicality purity errors pass silently "
    "ambiguity temptation guess obvious way dutch now never often right idea hard explain "
    "easy good namespaces honking great garden invoice holiday server recipe meeting car "
    "book river window morning letter budget"
)


def _notes(codes: list[str]) -> list[str]:
    rng = random.Random(1)
    notes = []
    for code in codes:
        words = [rng.choice(VOCABULARY) for _ in range(60)]
        words.insert(rng.randrange(60), code)
        notes.append(" ".join(words))
    return notes


def test_a_rare_code_word_brings_its_note_first(tmp_path, embedder):
    codes = _code_words(100)
    texts = _notes(codes)
    db, store, ids = _index(tmp_path, embedder, texts)
    queries = [*codes, *(f"which reference is {code}" for code in codes[:20])]
    vectors = embedder.embed(queries)
    params = SearchParams(k=5)
    for query, vector, expected in zip(queries, vectors, [*ids, *ids[:20]], strict=True):
        hits = hybrid_search(db, store, embedder.name, query, np.asarray(vector), params)
        assert hits[0].chunk_id == expected, query
        assert set(hits[0].scores) == {"dense", "bm25", "fused", "rerank"}


def test_a_korean_query_over_english_notes_gets_the_dense_order(tmp_path, embedder):
    texts = [
        f"Meeting notes from {year}: the {topic} budget was reviewed."
        for year in (2022, 2023, 2024)
        for topic in TOPICS
    ]
    db, store, _ = _index(tmp_path, embedder, texts)
    query = "2024년 회의 메모는 어디에 있나요"
    assert bm25_search(db, query, 50)  # the year alone matches English notes
    vector = np.asarray(embedder.embed([query])[0])
    fused = hybrid_search(db, store, embedder.name, query, vector, SearchParams(k=10))
    dense = hybrid_search(
        db, store, embedder.name, query, vector, SearchParams(k=10, bm25_weight=0)
    )
    assert [h.chunk_id for h in fused] == [h.chunk_id for h in dense]
    alone = hybrid_search(db, store, embedder.name, query, vector, SearchParams(dense_weight=0))
    assert alone  # without dense results keywords still answer, whatever the script


def test_an_option_name_brings_the_chunk_that_holds_it_whole_first(tmp_path, embedder):
    # BM25 over the separate words prefers the notes that repeat `show` and `toplevel`.
    texts = ["To print the top directory, git rev-parse --show-toplevel is used."]
    texts += [f"Show the toplevel menu; show a toplevel item; the toplevel {t}." for t in TOPICS]
    db, store, ids = _index(tmp_path, embedder, texts)
    query = "--show-toplevel"
    assert bm25_search(db, query, 50)[0][0] != ids[0]
    vector = np.asarray(embedder.embed([query])[0])
    for params in (SearchParams(k=5), SearchParams(k=5, dense_weight=0)):
        assert hybrid_search(db, store, embedder.name, query, vector, params)[0].chunk_id == ids[0]
