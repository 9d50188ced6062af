"""The OpenAI-compatible surface, answered by the real default model."""

from __future__ import annotations

import math

import pytest

from tests.daemon.api.conftest import sse_events
from tests.support.generation import (
    ENDLESS_FORMAT,
    FORCED_FORMAT,
    FORCED_PROMPT,
    FORCED_WORD,
    sampling,
)

CAPITAL = [{"role": "user", "content": "Which city is the capital of France?"}]
GREEDY = {**sampling(), "max_tokens": 24}
# The model's words travel to the client intact: a grammar decides them, not the CPU.
FORCED = {"messages": FORCED_PROMPT, "response_format": FORCED_FORMAT, **GREEDY}


def test_models_lists_the_assistant_then_the_raw_chat_model_then_embeddings(api):
    ids = [m["id"] for m in api.get("/v1/models").json()["data"]]
    assert ids == ["cove", "smollm2-135m-instruct", "all-MiniLM-L6-v2"]


def test_a_non_streamed_completion(api):
    response = api.post(
        "/v1/chat/completions",
        json={**FORCED, "model": "smollm2-135m-instruct"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "smollm2-135m-instruct"
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].strip() == f'"{FORCED_WORD}"'
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0
    assert "sources" not in body


def test_a_streamed_completion(api):
    response = api.post("/v1/chat/completions", json={**FORCED, "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [data for _, data in sse_events(response.text)]
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text.strip() == f'"{FORCED_WORD}"'
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] > 0


def test_response_format_json_object_and_bad_formats(api):
    body = {"messages": CAPITAL, **GREEDY, "max_tokens": 48}
    plain = api.post("/v1/chat/completions", json={**body, "response_format": {"type": "text"}})
    assert plain.status_code == 200
    bad = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "nope"}}}
    for stream in (False, True):
        refused = api.post(
            "/v1/chat/completions", json={**body, "stream": stream, "response_format": bad}
        )
        assert refused.status_code == 400  # before any byte is streamed
        assert refused.json()["error"]["code"] == "invalid_response_format"
    as_json = api.post(
        "/v1/chat/completions",
        json={**body, "max_tokens": 200, "response_format": {"type": "json_object"}},
    ).json()
    content = as_json["choices"][0]["message"]["content"]
    assert content.lstrip().startswith("{")  # an object, as OpenAI's json_object mode promises


def test_the_cove_model_carries_sources_streamed_and_not(api):
    body = {"model": "cove", "messages": CAPITAL, **GREEDY}
    plain = api.post("/v1/chat/completions", json=body).json()
    assert plain["model"] == "cove" and plain["sources"] == []
    streamed = [
        d
        for _, d in sse_events(api.post("/v1/chat/completions", json={**body, "stream": True}).text)
    ]
    assert streamed[-1] == "[DONE]"
    last = streamed[-2]
    assert (last["id"], last["object"], last["sources"]) == (streamed[0]["id"], "cove.sources", [])
    assert last["grounded"] is False and last["message_id"].startswith("m_")


@pytest.mark.parametrize("model", [None, "cove"], ids=["raw model", "assistant"])
def test_an_answer_stopped_by_the_time_limit_keeps_its_text_and_says_so(api, state, model):
    endless = {"model": model, "messages": CAPITAL, "response_format": ENDLESS_FORMAT}
    endless |= sampling()
    state.runtime.time_limit_s = 0.3  # [model] request_timeout_s
    try:
        plain = api.post("/v1/chat/completions", json=endless).json()
        streamed = sse_events(
            api.post("/v1/chat/completions", json={**endless, "stream": True}).text
        )
    finally:
        state.runtime.time_limit_s = None
    assert (plain["choices"][0]["finish_reason"], plain["timed_out"]) == ("length", True)
    assert plain["choices"][0]["message"]["content"].startswith('"')
    finishing = next(d for _, d in streamed if isinstance(d, dict) and d.get("usage"))
    assert (finishing["choices"][0]["finish_reason"], finishing["timed_out"]) == ("length", True)
    assert streamed[-1][1] == "[DONE]"


def test_a_prompt_too_long_for_the_context_is_a_400_before_streaming(api):
    huge = [{"role": "user", "content": "lorem ipsum dolor " * 3000}]
    for stream in (False, True):
        response = api.post("/v1/chat/completions", json={"messages": huge, "stream": stream})
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["code"] == "context_length_exceeded"
        assert "context is 2048 tokens" in error["message"]


def test_embeddings_are_unit_vectors_that_capture_meaning(api):
    response = api.post(
        "/v1/embeddings",
        json={
            "model": "all-MiniLM-L6-v2",
            "input": [
                "a cat sleeps on the sofa",
                "a kitten naps on the couch",
                "quarterly tax forms",
            ],
        },
    )
    assert response.status_code == 200
    body = response.json()
    vectors = [d["embedding"] for d in body["data"]]
    assert [d["index"] for d in body["data"]] == [0, 1, 2]
    assert all(len(v) == 384 for v in vectors)
    assert all(math.isclose(sum(x * x for x in v), 1.0, rel_tol=1e-3) for v in vectors)

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cos(vectors[0], vectors[1]) > cos(vectors[0], vectors[2]) + 0.2
    assert body["usage"]["prompt_tokens"] > 10


def test_a_single_string_is_embedded_too(api):
    body = api.post("/v1/embeddings", json={"input": "hello"}).json()
    assert len(body["data"]) == 1
