"""The default backend: SmolLM2-135M-Instruct, in-process through llama-cpp-python."""

from __future__ import annotations

import threading

import pytest

from cove.daemon.runtime.base import (
    ContextOverflowError,
    GenerationParams,
    ModelLoadError,
    ResponseFormatError,
)
from cove.daemon.runtime.llamacpp import LlamaCppBackend
from tests.support.generation import FORCED_FORMAT, FORCED_PROMPT, FORCED_WORD, PINNED, params

GREEDY = params(max_tokens=24)
CAPITAL = [{"role": "user", "content": "Which city is the capital of France?"}]
FORCED_SCHEMA = FORCED_FORMAT["json_schema"]["schema"]


def answer(backend, messages, params=GREEDY):
    chunks = list(backend.stream_chat(messages, params, threading.Event()))
    return "".join(c.text for c in chunks), chunks[-1]


def test_the_default_model_answers(llama_backend):
    text, final = answer(llama_backend, CAPITAL)
    assert text.strip()
    assert final.finish_reason in ("stop", "length")
    assert final.prompt_tokens > 5 and final.completion_tokens > 0


def test_a_json_schema_constrains_what_the_model_writes(llama_backend):
    # Whatever this CPU's kernels make the model prefer, the grammar admits one answer.
    text, final = answer(llama_backend, FORCED_PROMPT, params(24, json_schema=FORCED_SCHEMA))
    assert text.strip() == f'"{FORCED_WORD}"'
    assert final.finish_reason == "stop"


def test_an_invalid_json_schema_is_a_clear_error(llama_backend):
    with pytest.raises(ResponseFormatError, match="response_format"):
        answer(llama_backend, CAPITAL, params(8, json_schema={"type": "no-such-type"}))


def test_seeded_answers_are_reproducible(llama_backend):
    pinned = GenerationParams(max_tokens=24, **PINNED)
    for chosen in (pinned, GREEDY):  # greedy, and sampled with a seed when perturbed
        first, again = (
            answer(llama_backend, CAPITAL, chosen),
            answer(llama_backend, CAPITAL, chosen),
        )
        assert first[0] == again[0]


def test_prompt_tokens_are_counted_with_the_chat_template(llama_backend):
    phrase = "Which city is the capital of France? "
    once = llama_backend.count_prompt_tokens([{"role": "user", "content": phrase}])
    ten = llama_backend.count_prompt_tokens([{"role": "user", "content": phrase * 10}])
    # The template adds its default system prompt and role markers around the question.
    assert once > 20
    assert ten - once >= 9 * len(phrase.split())


def test_a_prompt_longer_than_the_context_is_a_clear_error(llama_backend):
    huge = [{"role": "user", "content": "lorem ipsum dolor " * 2000}]
    with pytest.raises(ContextOverflowError) as caught:
        answer(llama_backend, huge)
    assert caught.value.context == llama_backend.context_length
    assert caught.value.prompt_tokens > llama_backend.context_length
    assert "context is 2048 tokens" in str(caught.value)


def test_max_tokens_beyond_the_remaining_context_is_refused(llama_backend):
    with pytest.raises(ContextOverflowError, match="max_tokens=5000"):
        answer(llama_backend, CAPITAL, GenerationParams(max_tokens=5000))


def test_cancel_stops_generation(llama_backend):
    cancel = threading.Event()
    chunks = []
    long_answer = [{"role": "user", "content": "Write a very long story about a dragon."}]
    params = GenerationParams(max_tokens=400, temperature=0.8, seed=1)
    for chunk in llama_backend.stream_chat(long_answer, params, cancel):
        chunks.append(chunk)
        if len(chunks) == 3:
            cancel.set()
    assert chunks[-1].finish_reason == "cancelled"
    assert len(chunks) <= 5


def test_missing_model_file(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        LlamaCppBackend(tmp_path / "nope.gguf", "nope", 512, 1)


def test_a_file_that_is_not_gguf_is_refused(tmp_path):
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"definitely not a model" * 100)
    with pytest.raises(ModelLoadError, match="could not load"):
        LlamaCppBackend(bogus, "bogus", 512, 1)


def test_a_broken_adapter_is_refused(tmp_path, default_gguf):
    adapter = tmp_path / "adapter.gguf"
    adapter.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ModelLoadError, match="adapter"):
        LlamaCppBackend(default_gguf, "smollm2", 512, 1, adapter=adapter)
