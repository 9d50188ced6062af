"""Every answer is capped on a real daemon ([model] max_tokens; [chat] max_tokens for a
grounded one), whatever the request asks: one greedy client cannot hold the model for
everyone. The time limit's daemon test is in test_ollama.py (and the Runtime's, with
llama.cpp, in test_runtime.py); hang-ups of non-streamed requests are in
test_daemon_process.py."""

from __future__ import annotations

import threading

import pytest

from tests.support.daemon import start_daemon
from tests.support.generation import (
    ENDLESS_FORMAT,
    FORCED_FORMAT,
    FORCED_PROMPT,
    FORCED_WORD,
    sampling,
)
from tests.support.kb import wait_idle, write

CAP = 32
GROUNDED_CAP = 8
STORY = [{"role": "user", "content": "Write a very long story about the sea."}]
# Output the grammar keeps going long past the cap: only the cap can stop it.
ENDLESS = {"messages": STORY, "response_format": ENDLESS_FORMAT, **sampling()}
# A question the indexed note answers, so the assistant answers it from the note.
GROUNDED = {
    **ENDLESS,
    "model": "cove",
    "messages": [{"role": "user", "content": "Who built the lighthouse on Skerry Island?"}],
}
HUGE = 10**6


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits")
    write(
        root / "docs" / "skerry.md",
        "# Skerry Island lighthouse\n\nThe lighthouse on Skerry Island was built by the "
        "engineer Ada Quill. Construction finished in 1872.\n",
    )
    config = f"[model]\nmax_tokens = {CAP}\n[chat]\nmax_tokens = {GROUNDED_CAP}\n"
    running = start_daemon(root / "home", config=config)
    try:
        added = running.cove("folders", "add", str(root / "docs"))
        assert added.returncode == 0, added.stderr
        wait_idle(running)
        yield running
    finally:
        running.stop()


def post(daemon, path: str, body: dict) -> dict:
    with daemon.client() as client:
        return client.request("POST", path, json=body)


def test_a_greedy_client_gets_the_cap_and_the_next_client_its_answer(daemon):
    forced = {"messages": FORCED_PROMPT, "response_format": FORCED_FORMAT, **sampling()}
    requests = {
        "no max_tokens": ENDLESS,
        "huge max_tokens": {**ENDLESS, "max_tokens": HUGE},
        "other client": {**forced, "max_tokens": HUGE},
    }
    replies: dict[str, dict] = {}

    def send(name: str) -> None:
        replies[name] = post(daemon, "/v1/chat/completions", requests[name])

    threads = [threading.Thread(target=send, args=(name,)) for name in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert set(replies) == set(requests)
    for name in ("no max_tokens", "huge max_tokens"):
        assert replies[name]["choices"][0]["finish_reason"] == "length", name
        assert 0 < replies[name]["usage"]["completion_tokens"] <= CAP, name
    assert FORCED_WORD in replies["other client"]["choices"][0]["message"]["content"]


@pytest.mark.parametrize(
    ("body", "cap"),
    [(ENDLESS, CAP), (GROUNDED, GROUNDED_CAP)],
    ids=["raw model", "grounded assistant"],
)
def test_streamed_answers_get_the_cap(daemon, body, cap):
    with daemon.client() as client:
        events = client.stream_events(
            "/v1/chat/completions", {**body, "stream": True, "max_tokens": HUGE}
        )
        chunks = [data for _, data in events]
    assert chunks[-1] == "[DONE]"
    final = next(c for c in chunks if isinstance(c, dict) and c.get("usage"))
    assert 0 < final["usage"]["completion_tokens"] <= cap


def test_the_assistant_gets_its_caps_on_every_surface(daemon):
    grounded = post(daemon, "/v1/chat/completions", {**GROUNDED, "max_tokens": HUGE})
    assert grounded["cove"]["grounded"] is True
    assert 0 < grounded["usage"]["completion_tokens"] <= GROUNDED_CAP
    question = GROUNDED["messages"][0]["content"]
    for general, cap in ((False, GROUNDED_CAP), (True, CAP)):
        asked = post(
            daemon,
            "/api/ask",
            {"question": question, "general": general, "stream": False, "max_tokens": HUGE}
            | sampling(),
        )
        assert asked["grounded"] is not general
        assert 0 < asked["timings"]["completion_tokens"] <= cap
