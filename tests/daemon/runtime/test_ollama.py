"""The Ollama backend, against a local server speaking Ollama's documented API.

The real Ollama server cannot be installed on this machine (it is not on PyPI or in
Debian); see the README.
"""

from __future__ import annotations

import threading
import time

import pytest

from cove.daemon.runtime.base import (
    BackendUnavailableError,
    ContextOverflowError,
    GenerationParams,
    ModelLoadError,
)
from cove.daemon.runtime.ollama import OllamaBackend, list_ollama_models
from tests.support.daemon import free_port
from tests.support.fake_ollama import FakeOllama

QUESTION = [{"role": "user", "content": "hello there"}]


def backend_for(server: FakeOllama, name: str = "llama3.2", num_ctx: int = 4096):
    return OllamaBackend(name, server.url, num_ctx=num_ctx, timeout=10)


def test_lists_the_servers_models():
    with FakeOllama() as server:
        assert list_ollama_models(server.url) == ["llama3.2:latest"]


def test_no_server_means_no_models():
    assert list_ollama_models(f"http://127.0.0.1:{free_port()}", timeout=0.5) == []


def test_streams_json_lines_until_done():
    with FakeOllama(answer_words=5) as server:
        backend = backend_for(server)
        chunks = list(
            backend.stream_chat(
                QUESTION, GenerationParams(seed=7, temperature=0), threading.Event()
            )
        )
    text = "".join(c.text for c in chunks)
    assert text == "echo: hello there more more "
    final = chunks[-1]
    assert final.finish_reason == "stop"
    assert (final.prompt_tokens, final.completion_tokens) == (26, 5)
    sent = server.chat_requests()[0]
    assert sent["stream"] is True
    assert sent["options"]["num_ctx"] == 4096
    assert sent["options"]["seed"] == 7
    assert sent["options"]["temperature"] == 0


def test_done_reason_length_is_passed_on():
    with FakeOllama(answer_words=10) as server:
        chunks = list(
            backend_for(server).stream_chat(
                QUESTION, GenerationParams(max_tokens=3), threading.Event()
            )
        )
    assert chunks[-1].finish_reason == "length"
    assert server.chat_requests()[0]["options"]["num_predict"] == 3


def test_context_is_capped_by_the_models_own_length():
    with FakeOllama(context_length=2048) as server:
        assert backend_for(server, num_ctx=8192).context_length == 2048


def test_too_long_a_prompt_is_refused_before_reaching_ollama():
    with FakeOllama() as server:
        backend = backend_for(server, num_ctx=512)
        huge = [{"role": "user", "content": "word " * 2000}]
        with pytest.raises(ContextOverflowError, match="context is 512 tokens"):
            list(backend.stream_chat(huge, GenerationParams(), threading.Event()))
        assert server.chat_requests() == []


def test_unknown_model_is_a_clear_error():
    with FakeOllama() as server, pytest.raises(ModelLoadError, match="ollama pull nope"):
        backend_for(server, name="nope")


def test_unreachable_server_is_a_clear_error():
    with pytest.raises(BackendUnavailableError, match="cannot reach Ollama"):
        OllamaBackend("llama3.2", f"http://127.0.0.1:{free_port()}", 4096, timeout=1)


def test_cancel_closes_the_stream_and_ollama_sees_the_disconnect():
    with FakeOllama(answer_words=400, token_delay=0.01) as server:
        cancel = threading.Event()
        chunks = []
        for chunk in backend_for(server).stream_chat(QUESTION, GenerationParams(), cancel):
            chunks.append(chunk)
            if len(chunks) == 3:
                cancel.set()
        assert chunks[-1].finish_reason == "cancelled"
        assert len(chunks) < 10
        deadline = time.monotonic() + 10
        while server.disconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.disconnects == 1


@pytest.mark.slow  # a real daemon process
def test_a_daemon_configured_with_ollama_answers_through_it_within_its_limits(tmp_path):
    from cove.daemon.client import CoveClient
    from tests.support.daemon import start_daemon

    with FakeOllama(answer_words=4) as server:
        daemon = start_daemon(
            tmp_path / "home",
            config=f'[model]\nchat = "ollama:llama3.2"\nrequest_timeout_s = 1\n'
            f'[ollama]\nhost = "{server.url}"\n',
        )
        try:
            with CoveClient.from_home(daemon.home) as client:
                assert client.status()["model"] == "ollama:llama3.2"
                reply = client.chat_completion(messages=QUESTION)
                listed = client.models()
                # An answer that would take 10 s is stopped by the time limit after 1 s.
                server.answer_words, server.token_delay = 1000, 0.02
                slow = client.chat_completion(messages=QUESTION)
                timed_out = client.status()["runtime"]["timed_out_total"]
        finally:
            daemon.stop()
    assert reply["model"] == "ollama:llama3.2"
    assert reply["choices"][0]["message"]["content"] == "echo: hello there more "
    assert reply["choices"][0]["finish_reason"] == "stop"
    # [model] max_tokens (512) reaches Ollama as num_predict, not the context's room.
    assert server.chat_requests()[0]["options"]["num_predict"] == 512
    assert (slow["choices"][0]["finish_reason"], slow["timed_out"]) == ("length", True)
    assert slow["choices"][0]["message"]["content"].startswith("echo: hello there")
    assert timed_out == 1 and server.disconnects == 1  # Ollama was told to stop
    assert {
        "name": "ollama:llama3.2:latest",
        "backend": "ollama",
        "path": None,
        "current": False,
    } in listed["models"]
