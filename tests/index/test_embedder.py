"""Token counting with the embedder's own tokenizer, as the chunker sizes chunks by it."""

from __future__ import annotations

import threading

import pytest

TEXTS = [
    "The lighthouse keeper logs the tides at dawn.",
    "SELECT * FROM pg_stat_activity WHERE state = 'idle in transaction';",
    "word " * 600,  # far past max_seq_length: a count must never be truncated
    "",
]


def wrapper_count(embedder, text: str) -> int:
    """The count through transformers, as `count_tokens` gave it before."""
    return len(embedder._model.tokenizer(text, add_special_tokens=True)["input_ids"])


def test_counts_equal_the_tokenizers_own_and_are_never_truncated(embedder):
    for text in TEXTS:
        assert embedder.count_tokens(text) == wrapper_count(embedder, text)
    assert embedder.count_tokens(TEXTS[2]) > embedder.max_seq_length


@pytest.mark.timeout(120)
def test_counting_while_another_thread_embeds_gives_the_same_counts(embedder):
    expected = [embedder.count_tokens(t) for t in TEXTS]
    stop = threading.Event()
    errors: list[BaseException] = []

    def embed_until_stopped() -> None:
        try:
            while not stop.is_set():
                embedder.embed([TEXTS[2], TEXTS[0]])  # truncated to max_seq_length
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=embed_until_stopped)
    thread.start()
    try:
        counts = [[embedder.count_tokens(t) for t in TEXTS] for _ in range(200)]
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert all(c == expected for c in counts)
