"""The Runtime: one generation at a time, streamed into asyncio, cancelled when abandoned."""

from __future__ import annotations

import asyncio

import pytest

from cove.daemon.runtime import GenerationParams, ModelLoadError, Runtime
from tests.support.generation import ENDLESS_SCHEMA, params

QUESTION = [{"role": "user", "content": "Name three colours."}]


@pytest.fixture
def runtime(llama_backend):
    rt = Runtime(llama_backend)
    yield rt
    rt._executor.shutdown(wait=True)  # leave the shared backend loaded for other tests


async def collect(runtime, params):
    seen_busy = []
    text = []
    async for chunk in runtime.stream(QUESTION, params):
        seen_busy.append(runtime.busy)
        text.append(chunk.text)
    return "".join(text), chunk


def test_two_concurrent_generations_both_complete_one_at_a_time(runtime):
    params = GenerationParams(max_tokens=16, temperature=0, seed=0)

    async def both():
        return await asyncio.gather(collect(runtime, params), collect(runtime, params))

    (text_a, final_a), (text_b, final_b) = asyncio.run(both())
    assert text_a and text_a == text_b  # same greedy answer: neither disturbed the other
    assert final_a.finish_reason and final_b.finish_reason
    assert runtime.generations_total == 2
    assert runtime.busy is False and runtime.waiting == 0


def test_abandoning_a_stream_cancels_generation_and_frees_the_model(runtime):
    long = GenerationParams(max_tokens=400, temperature=0.8, seed=3)

    async def abandon_then_ask():
        received = 0
        stream = runtime.stream([{"role": "user", "content": "Tell a long story."}], long)
        async for _ in stream:
            received += 1
            if received == 2:
                break
        await stream.aclose()
        text, final = await collect(runtime, GenerationParams(max_tokens=8, temperature=0))
        return received, text, final

    received, text, final = asyncio.run(abandon_then_ask())
    assert received == 2
    assert runtime.cancelled_total == 1
    assert text and final.finish_reason in ("stop", "length")


@pytest.fixture
def limited(llama_backend, request):
    """A Runtime with the limits the test names: `@pytest.mark.parametrize` indirect."""
    rt = Runtime(llama_backend, **request.param)
    yield rt
    rt._executor.shutdown(wait=True)


@pytest.mark.parametrize("limited", [{"max_tokens": 8}], indirect=True, ids=["cap-8"])
def test_a_request_for_more_than_the_cap_gets_the_cap(limited):
    for asked in (None, 100_000):  # no limit, or far more than the context holds
        endless = params(asked, json_schema=ENDLESS_SCHEMA)
        assert limited.check_prompt(QUESTION, endless) > 0  # no context_length_exceeded
        _, final = asyncio.run(collect(limited, endless))
        assert final.finish_reason == "length"
        assert 0 < final.completion_tokens <= 8
    # A request for less than the cap is served as asked.
    assert limited.fit(QUESTION, params(3))[1].max_tokens == 3


@pytest.mark.parametrize("limited", [{"time_limit_s": 0.3}], indirect=True, ids=["limit-0.3s"])
def test_the_time_limit_stops_an_answer_and_keeps_its_text(limited):
    endless = params(json_schema=ENDLESS_SCHEMA)  # about 2,000 tokens of room
    text, final = asyncio.run(collect(limited, endless))
    assert final.finish_reason == "timeout"
    assert text.startswith('"')  # what was generated is kept
    assert (limited.timed_out_total, limited.cancelled_total) == (1, 0)
    assert limited.busy is False
    _, after = asyncio.run(collect(limited, GenerationParams(max_tokens=4, temperature=0)))
    assert after.finish_reason in ("stop", "length")


def test_a_failed_swap_keeps_the_current_model(runtime, llama_backend):
    def broken():
        raise ModelLoadError("no such model")

    with pytest.raises(ModelLoadError):
        runtime.swap(broken)
    assert runtime.backend is llama_backend
