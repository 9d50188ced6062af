"""The embedding cache, fed a few texts at a time as files are chunked."""

from __future__ import annotations

import numpy as np

from cove.daemon.store import open_db
from cove.index.embedcache import CachedEmbedding, embed_cached


class FakeEncoder:
    """Records each batch; a text's vector is its length and its first letter's code."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.batches.append(list(texts))
        return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float32)


def test_texts_arriving_a_few_at_a_time_are_embedded_in_full_batches_once_each(tmp_path):
    db = open_db(tmp_path / "cove.db")
    encoder = FakeEncoder()
    cache = CachedEmbedding(db, "m", encoder, batch_size=4)
    files = [["a1", "b22", "a1"], ["c333", "d4444"], ["b22", "e5", "f66", "g777"], ["h8", "i9"]]
    batches = []
    for texts in files:
        cache.add(texts)
        batches.append([len(b) for b in encoder.batches])
    cache.flush()

    # 2, 4, 7 and 9 distinct texts in: a batch goes as soon as 4 wait, the rest at the end.
    assert batches == [[], [4], [4], [4, 4]]
    assert [len(b) for b in encoder.batches] == [4, 4, 1]
    assert sorted(t for b in encoder.batches for t in b) == sorted({t for f in files for t in f})
    everything = [t for f in files for t in f]
    expected = np.array([[len(t), ord(t[0])] for t in everything], dtype=np.float32)
    assert np.array_equal(cache.vectors(everything), expected)
    assert cache.embedded == 9


def test_cached_texts_are_never_embedded_again(tmp_path):
    db = open_db(tmp_path / "cove.db")
    first = FakeEncoder()
    embed_cached(db, "m", ["one", "two"], first)
    again = FakeEncoder()
    cache = CachedEmbedding(db, "m", again, batch_size=2)
    cache.add(["two", "three", "one"])
    cache.flush()

    assert again.batches == [["three"]]
    assert cache.embedded == 1
    assert cache.vectors(["one"]).tolist() == [[3.0, ord("o")]]
    vectors, embedded = embed_cached(db, "other model", ["one"], FakeEncoder())
    assert embedded == 1  # the cache is per model
