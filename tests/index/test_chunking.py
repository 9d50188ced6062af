"""Chunking: structure-following chunks that always fit the embedder, heading trail included."""

from __future__ import annotations

import os
import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from cove.index.chunking import (  # noqa: E402
    Chunk,
    chunk_document,
    default_chunk_tokens,
    embed_text,
)
from cove.index.document import Block, Document  # noqa: E402


def words(text: str) -> int:
    """A counter for exact small cases: one token per word, no special tokens."""
    return len(text.split())


def doc(*blocks: Block) -> Document:
    return Document(path=Path("notes.md"), format="markdown", blocks=list(blocks))


def sentences(prefix: str, count: int, size: int = 3) -> str:
    """ "p1a p1b p1c. p2a p2b p2c. ..." — every word unique, so it can be traced."""
    return " ".join(
        " ".join(f"{prefix}{i}{chr(97 + j)}" for j in range(size)) + "."
        for i in range(1, count + 1)
    )


@pytest.fixture(scope="module")
def count_tokens(embedder) -> Callable[[str], int]:
    """The real embedder's word-piece counter (the model is loaded once per session)."""
    return embedder.count_tokens


@pytest.fixture(scope="module")
def budget(embedder) -> int:
    return default_chunk_tokens(embedder.max_seq_length)


# -- Documents to throw at the chunker ------------------------------------------------------

VOCABULARY = [
    *("index", "embed", "chunk", "query", "daemon", "model", "folder", "vector", "store"),
    *("search", "rank", "answer", "source", "note", "page", "line", "heading", "section"),
    *("token", "budget", "overlap", "sentence", "paragraph", "document", "adapter"),
]


def prose(rng: random.Random, tag: str, sentence_count: int) -> str:
    """Sentences of 6-24 words; every sentence starts with a unique tracer word."""
    out = []
    for i in range(sentence_count):
        body = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(5, 23)))
        out.append(f"{tag}x{i} {body}.")
    return " ".join(out)


def long_paragraphs() -> Document:
    rng = random.Random(1)
    return doc(
        Block("Guide", kind="heading", heading=("Guide",), level=1),
        *(Block(prose(rng, f"p{n}", 40), heading=("Guide",)) for n in range(4)),
    )


def huge_code_block() -> Document:
    code = "\n".join(
        f"def handler_{i}(request, *args):\n    return route_{i}(request)" for i in range(300)
    )
    return doc(
        Block("API", kind="heading", heading=("API",), level=1, line_start=1, line_end=1),
        Block("Handlers follow.", heading=("API",), line_start=3, line_end=3),
        Block(code, kind="code", heading=("API",), line_start=5, line_end=604),
    )


def many_tiny_paragraphs() -> Document:
    return doc(*(Block(f"tiny{i} item number {i}.", heading=("List", "Tiny")) for i in range(300)))


def unicode_text() -> Document:
    japanese = "".join(f"東京タワーは{i}番目の塔です。" for i in range(200))
    unbroken = "数据库索引向量" * 400  # no whitespace, no sentence end
    mixed = " ".join(f"naïve café {i} — 😀 émigré Zürich ſtraße." for i in range(150))
    return doc(
        Block(japanese, heading=("日本語",)),
        Block(unbroken, heading=("中文",)),
        Block(mixed, heading=("Ünïcödé", "Émoji 😀")),
    )


def absurd_heading() -> Document:
    title = " ".join(f"very long heading word{i}" for i in range(200))
    return doc(Block(prose(random.Random(2), "h", 30), heading=("Top", title)))


DOCUMENTS = {
    "long paragraphs": long_paragraphs,
    "huge code block": huge_code_block,
    "many tiny paragraphs": many_tiny_paragraphs,
    "unicode": unicode_text,
    "absurd heading": absurd_heading,
}


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def text_words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text))


# -- Size: every chunk fits, heading trail included -----------------------------------------


@pytest.mark.parametrize("name", DOCUMENTS)
@pytest.mark.parametrize("max_tokens", [64, None])
def test_every_chunk_fits_the_budget_with_its_heading_prepended(
    name, max_tokens, count_tokens, budget
):
    limit = max_tokens or budget
    chunks = chunk_document(DOCUMENTS[name](), count_tokens, limit)
    assert chunks
    for chunk in chunks:
        assert count_tokens(embed_text(chunk, with_heading=True)) <= limit, chunk


def joins_cost_extra(text: str) -> int:
    """A counter whose counts don't add up: a blank line between blocks costs two tokens."""
    return words(text) + 2 * text.count("\n\n")


@pytest.mark.parametrize("name", DOCUMENTS)
def test_chunks_fit_even_when_counts_of_pieces_do_not_add_up(name):
    document = DOCUMENTS[name]()
    for overlap in (0.0, 0.15):
        chunks = chunk_document(document, joins_cost_extra, 30, overlap=overlap)
        assert all(joins_cost_extra(embed_text(c, with_heading=True)) <= 30 for c in chunks)


def test_the_default_budget_stays_under_the_embedders_limit(embedder, budget):
    assert 200 <= budget < embedder.max_seq_length == 256
    assert default_chunk_tokens(512) == budget  # longer models don't get longer chunks


def test_a_heading_trail_longer_than_half_the_budget_loses_its_outer_headings(count_tokens):
    chunks = chunk_document(absurd_heading(), count_tokens, 128)
    assert all(chunk.heading and chunk.heading[0] != "Top" for chunk in chunks)


# -- Nothing lost, nothing mixed -------------------------------------------------------------


@pytest.mark.parametrize("name", DOCUMENTS)
def test_without_overlap_the_chunks_give_back_the_text_in_order(name, count_tokens):
    document = DOCUMENTS[name]()
    chunks = chunk_document(document, count_tokens, 64, overlap=0.0)
    content = [b for b in document.blocks if b.kind != "heading"]  # headings ride in trails
    assert squeeze("".join(c.text for c in chunks)) == squeeze("".join(b.text for b in content))


@pytest.mark.parametrize("name", ["long paragraphs", "huge code block", "many tiny paragraphs"])
def test_with_overlap_every_word_is_still_in_some_chunk(name, count_tokens, budget):
    document = DOCUMENTS[name]()
    chunks = chunk_document(document, count_tokens, budget)
    chunked = set().union(*(text_words(embed_text(c, with_heading=True)) for c in chunks))
    for block in document.blocks:
        assert text_words(block.text) <= chunked


def test_sections_are_never_mixed(count_tokens, budget):
    rng = random.Random(3)
    trails = [("A",), ("A", "B"), ("A", "B", "C"), ("D",), ("A",)]
    blocks = [
        Block(prose(rng, f"sec{n}", rng.randint(2, 60)), heading=trail)
        for n, trail in enumerate(trails)
    ]
    chunks = chunk_document(doc(*blocks), count_tokens, budget)
    for chunk in chunks:
        tags = {int(tag) for tag in re.findall(r"\bsec(\d+)x", chunk.text)}
        assert len(tags) == 1
        assert chunk.heading == trails[tags.pop()]


def test_a_section_holding_only_a_heading_is_named_by_its_subsections_trail():
    chunks = chunk_document(
        doc(
            Block("Guide", kind="heading", heading=("Guide",), level=1),
            Block("Install", kind="heading", heading=("Guide", "Install"), level=2),
            Block("Run the installer.", heading=("Guide", "Install")),
            Block("Todo", kind="heading", heading=("Guide", "Todo"), level=2),
        ),
        words,
        50,
    )
    assert [(c.heading, c.text) for c in chunks] == [
        (("Guide", "Install"), "Run the installer."),
        (("Guide", "Todo"), "Todo"),  # an empty last section stays findable
    ]


def test_the_same_block_twice_is_chunked_twice():
    block = Block("Same words again.")
    chunks = chunk_document(doc(block, block), words, 50)
    assert [c.text for c in chunks] == ["Same words again.\n\nSame words again."]


def test_an_empty_document_gives_no_chunks(count_tokens, budget):
    assert chunk_document(doc(), count_tokens, budget) == []
    assert chunk_document(doc(Block("  \n\n \t")), count_tokens, budget) == []


# -- Packing and splitting, exactly, with one token per word ---------------------------------


def test_a_long_paragraph_is_split_at_sentences_with_the_last_sentence_repeated():
    chunks = chunk_document(doc(Block(sentences("s", 10))), words, 12, overlap=0.25, min_tokens=0)
    assert [c.text for c in chunks] == [
        "s1a s1b s1c. s2a s2b s2c. s3a s3b s3c. s4a s4b s4c.",
        "s4a s4b s4c. s5a s5b s5c. s6a s6b s6c. s7a s7b s7c.",
        "s7a s7b s7c. s8a s8b s8c. s9a s9b s9c. s10a s10b s10c.",
    ]


def test_small_blocks_are_packed_together_and_a_block_that_does_not_fit_starts_the_next():
    blocks = [Block("a1 a2 a3 a4."), Block("b1 b2 b3."), Block("c1 c2 c3 c4 c5 c6.")]
    chunks = chunk_document(doc(*blocks), words, 10, overlap=0.0, min_tokens=0)
    assert [c.text for c in chunks] == ["a1 a2 a3 a4.\n\nb1 b2 b3.", "c1 c2 c3 c4 c5 c6."]


def test_a_code_block_that_fits_a_chunk_is_kept_whole():
    code = "\n".join(f"line{i} = {i}" for i in range(5)) + "\nreturn done"  # 17 words
    blocks = [Block(sentences("p", 3)), Block(code, kind="code")]
    # Whole, the code leaves room for only one word of the usual 3-word overlap.
    chunks = chunk_document(doc(*blocks), words, 18, overlap=0.15, min_tokens=0)
    assert [c.text for c in chunks] == [sentences("p", 3), "p3c.\n\n" + code]


def test_a_code_block_too_big_for_a_chunk_is_split_at_line_boundaries(count_tokens):
    document = huge_code_block()
    code_lines = set(document.blocks[-1].text.splitlines())
    chunks = chunk_document(document, count_tokens, 120)
    code_chunks = [c for c in chunks if "def handler_" in c.text]
    assert len(code_chunks) > 10
    for chunk in code_chunks[1:]:
        assert set(chunk.text.splitlines()) <= code_lines


def test_a_sentence_too_long_for_a_chunk_is_split_at_words():
    text = " ".join(f"w{i}" for i in range(50))  # one "sentence" of 50 words
    chunks = chunk_document(doc(Block(text)), words, 20, overlap=0.0, min_tokens=0)
    assert [words(c.text) for c in chunks] == [20, 20, 10]
    assert " ".join(c.text for c in chunks) == text


def test_a_tiny_last_piece_takes_over_the_end_of_the_previous_chunk():
    chunks = chunk_document(doc(Block(sentences("s", 5))), words, 12, overlap=0.0, min_tokens=4)
    assert [c.text for c in chunks] == [
        "s1a s1b s1c. s2a s2b s2c. s3a s3b s3c.",
        "s4a s4b s4c. s5a s5b s5c.",
    ]


def test_the_heading_trail_counts_against_the_budget():
    block = Block(sentences("s", 4), heading=("One", "Two"))  # "One > Two" is 3 words
    chunks = chunk_document(doc(block), words, 12, overlap=0.0, min_tokens=0)
    assert [c.text for c in chunks] == ["s1a s1b s1c. s2a s2b s2c. s3a s3b s3c.", "s4a s4b s4c."]
    assert embed_text(chunks[1], with_heading=True) == "One > Two\n\ns4a s4b s4c."
    assert embed_text(chunks[1], with_heading=False) == "s4a s4b s4c."


# -- Overlap ---------------------------------------------------------------------------------


def shared_edge(before: str, after: str) -> str:
    """The longest end of `before` that `after` starts with."""
    for size in range(min(len(before), len(after)), 0, -1):
        if before.endswith(after[:size]):
            return after[:size]
    return ""


def test_consecutive_chunks_of_a_long_section_overlap_by_10_to_20_percent(count_tokens, budget):
    chunks = chunk_document(long_paragraphs(), count_tokens, budget, overlap=0.15)
    assert len(chunks) > 4
    for before, after in zip(chunks, chunks[1:], strict=False):
        edge = shared_edge(before.text, after.text)
        tokens = count_tokens(edge) - 2  # without [CLS] and [SEP]
        assert 0.10 * budget <= tokens <= 0.20 * budget + 1, (before.text, after.text)


def test_no_overlap_is_asked_none_is_given(count_tokens, budget):
    chunks = chunk_document(long_paragraphs(), count_tokens, budget, overlap=0.0)
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert len(shared_edge(before.text, after.text)) < 5  # a stray shared letter at most


def test_chunks_of_different_sections_do_not_overlap():
    blocks = [Block(sentences("a", 8), heading=("A",)), Block(sentences("b", 8), heading=("B",))]
    chunks = chunk_document(doc(*blocks), words, 14, overlap=0.2, min_tokens=0)
    first_b = next(c for c in chunks if c.heading == ("B",))
    assert first_b.text.startswith("b1a")


# -- Where a chunk came from -----------------------------------------------------------------


def test_line_ranges_follow_a_markdown_document():
    # 1  # Guide
    # 2
    # 3  Cove answers questions
    # 4  about your files.
    # 5
    # 6  ## Install
    # 7
    # 8  ```
    # 9  pip install cove
    # 10 cove init
    # 11 ```
    chunks = chunk_document(
        doc(
            Block("Guide", kind="heading", heading=("Guide",), level=1, line_start=1, line_end=1),
            Block(
                "Cove answers questions\nabout your files.",
                heading=("Guide",),
                line_start=3,
                line_end=4,
            ),
            Block("Install", kind="heading", heading=("Guide", "Install"), level=2, line_start=6),
            Block(
                "pip install cove\ncove init",
                kind="code",
                heading=("Guide", "Install"),
                line_start=9,
                line_end=10,
            ),
        ),
        words,
        50,
    )
    assert [(c.heading, c.line_start, c.line_end) for c in chunks] == [
        (("Guide",), 3, 4),
        (("Guide", "Install"), 9, 10),
    ]


def test_a_chunk_made_from_part_of_a_block_gets_the_lines_of_that_part():
    code = "\n".join(f"x{n} = {n}" for n in range(60))  # line 100 + n holds "x{n} = {n}"
    block = Block(code, kind="code", line_start=100, line_end=159)
    chunks = chunk_document(doc(block), words, 40, overlap=0.15, min_tokens=0)
    assert len(chunks) > 4
    for chunk in chunks:
        first, last = chunk.text.splitlines()[0], chunk.text.splitlines()[-1]
        assert chunk.line_start == 100 + int(first.split()[-1])
        assert chunk.line_end == 100 + int(last.split()[-1])


def test_chunks_carry_the_page_and_do_not_span_pages():
    blocks = [
        Block(sentences("one", 2), page=1),
        Block(sentences("onemore", 2), page=1),
        Block(sentences("two", 2), page=2),
    ]
    chunks = chunk_document(doc(*blocks), words, 50)
    assert [(c.page, c.text[:4]) for c in chunks] == [(1, "one1"), (2, "two1")]


def test_ordinals_count_chunks_in_document_order(count_tokens, budget):
    document = doc(*long_paragraphs().blocks, *many_tiny_paragraphs().blocks)
    chunks = chunk_document(document, count_tokens, budget)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    firsts = [int(m[0]) for c in chunks if (m := re.findall(r"\btiny(\d+)\b", c.text))]
    assert firsts == sorted(set(firsts))


def test_chunks_are_plain_frozen_values():
    chunk = Chunk("text", ("A",), page=None, line_start=1, line_end=2, ordinal=0)
    with pytest.raises(AttributeError):
        chunk.text = "changed"  # type: ignore[misc]
