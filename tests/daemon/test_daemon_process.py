"""A real daemon process on a loopback port, with a temp COVE_HOME."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.daemon import run_cove
from tests.support.generation import (
    ENDLESS_FORMAT,
    FORCED_FORMAT,
    FORCED_PROMPT,
    FORCED_WORD,
    sampling,
)

# The model's words, decided by a grammar rather than by this CPU's kernels.
FORCED = {"messages": FORCED_PROMPT, "response_format": FORCED_FORMAT, **sampling()}


def headers(daemon) -> dict:
    return {"Authorization": f"Bearer {daemon.token}"}


def test_daemon_json_describes_the_running_daemon(daemon):
    info = json.loads((daemon.home / "daemon.json").read_text())
    assert set(info) == {"pid", "port", "started_at", "version"}
    assert info["port"] == daemon.port and info["pid"] == daemon.info["pid"]


def test_the_token_file_is_private(daemon):
    assert (daemon.home / "token").stat().st_mode & 0o777 == 0o600


def test_home_layout_and_logs(daemon):
    for name in ("config.toml", "cove.db", "chroma", "logs", "adapters"):
        assert (daemon.home / name).exists(), name
    assert "listening on http://127.0.0.1" in (daemon.home / "logs" / "cove.log").read_text()


def test_listens_on_loopback_only(daemon):
    wanted = f"{daemon.port:04X}"
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if local.endswith(":" + wanted) and state == "0A":  # 0A = LISTEN
                listening.append(local.split(":")[0])
    assert listening == ["0100007F"]  # 127.0.0.1, nothing else


def test_the_token_is_enforced(daemon):
    assert httpx.get(f"{daemon.url}/api/status").status_code == 401
    assert httpx.get(f"{daemon.url}/api/status", headers=headers(daemon)).status_code == 200


def test_a_real_answer_not_streamed(daemon):
    response = httpx.post(
        f"{daemon.url}/v1/chat/completions",
        headers=headers(daemon),
        json={**FORCED, "max_tokens": 24},
        timeout=120,
    )
    assert FORCED_WORD in response.json()["choices"][0]["message"]["content"]


def stream_completion(daemon, max_tokens: int = 24, results: list | None = None) -> str:
    text = []
    with httpx.stream(
        "POST",
        f"{daemon.url}/v1/chat/completions",
        headers=headers(daemon),
        json={**FORCED, "stream": True, "max_tokens": max_tokens},
        timeout=120,
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                delta = json.loads(line[6:])["choices"][0]["delta"]
                text.append(delta.get("content", ""))
            if line == "data: [DONE]":
                text.append("<DONE>")
    if results is not None:
        results.append("".join(text))
    return "".join(text)


def test_a_real_answer_streamed(daemon):
    text = stream_completion(daemon)
    assert FORCED_WORD in text and text.endswith("<DONE>")


def test_two_concurrent_streams_both_complete(daemon):
    results: list[str] = []
    threads = [
        threading.Thread(target=stream_completion, args=(daemon, 24, results)) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(results) == 2
    assert all(r.endswith("<DONE>") and FORCED_WORD in r for r in results)


def runtime_stats(daemon) -> dict:
    return httpx.get(f"{daemon.url}/api/status", headers=headers(daemon)).json()["runtime"]


def test_a_client_disconnect_frees_the_model(daemon):
    before = runtime_stats(daemon)["cancelled_total"]
    story = [{"role": "user", "content": "Write a very long story about the sea."}]
    with httpx.stream(
        "POST",
        f"{daemon.url}/v1/chat/completions",
        headers=headers(daemon),
        json={"messages": story, "stream": True, "max_tokens": 1500, "temperature": 0.8},
        timeout=60,
    ) as response:
        lines = response.iter_lines()
        for _ in range(6):
            next(lines)
    # The connection is closed now; the daemon must notice and stop generating.
    stats = wait_until_freed(daemon, before)
    assert stats["cancelled_total"] == before + 1
    assert stats["busy"] is False
    assert FORCED_WORD in stream_completion(daemon)


def wait_until_freed(daemon, cancelled_before: int) -> dict:
    """The runtime's stats once one more answer was cancelled and the model is free (or
    after 30 s). Only an answer stopped early counts as cancelled."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stats = runtime_stats(daemon)
        if stats["cancelled_total"] > cancelled_before and not stats["busy"]:
            break
        time.sleep(0.1)
    return stats


@pytest.mark.parametrize("model", [None, "cove"], ids=["raw model", "assistant"])
def test_a_non_streamed_client_hang_up_frees_the_model(daemon, model):
    before = runtime_stats(daemon)["cancelled_total"]
    story = [{"role": "user", "content": "Write a very long story about the sea."}]
    # Output that never ends by itself: only the cap (512 tokens) would stop it.
    body = json.dumps(
        {"model": model, "messages": story, "response_format": ENDLESS_FORMAT, **sampling()}
    ).encode()
    request = (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{daemon.port}\r\n"
        f"Authorization: Bearer {daemon.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", daemon.port)) as sock:
        sock.sendall(request + body)
        # Hang up once the model is generating, whatever this CPU's speed.
        deadline = time.monotonic() + 30
        while not runtime_stats(daemon)["busy"] and time.monotonic() < deadline:
            time.sleep(0.05)
    stats = wait_until_freed(daemon, before)
    assert stats["cancelled_total"] == before + 1
    assert stats["busy"] is False
    assert FORCED_WORD in stream_completion(daemon)


def test_status_json_via_the_cli(daemon):
    done = daemon.cove("status", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["pid"] == daemon.info["pid"] and doc["port"] == daemon.port
    assert doc["model"] == "smollm2-135m-instruct" and doc["adapter"] is None
    assert doc["index"]["state"] == "idle"
    assert doc["offline"]["violations"] == 0


def test_a_second_daemon_on_the_same_home_is_refused(daemon):
    done = run_cove("serve", env=daemon.env, timeout=60)
    assert done.returncode == 1
    assert "already runs" in done.stderr
