"""Helpers for knowledge-base tests: waiting on counters and searching a real daemon."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.support.daemon import RunningDaemon


def wait_for(check: Callable[[], object], timeout: float = 60, what: str = "condition"):
    """Poll until `check()` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def index_status(daemon: RunningDaemon) -> dict:
    with daemon.client() as client:
        return client.index_status()


def wait_idle(daemon: RunningDaemon, timeout: float = 120) -> dict:
    """`cove index wait` (in-process): the index idle and settled; then its status."""
    done = daemon.cove("index", "wait", "--timeout", str(timeout), "--json")
    assert done.returncode == 0, done.stderr
    return index_status(daemon)


def wait_ingests(daemon: RunningDaemon, at_least: int, timeout: float = 60) -> dict:
    """Wait until `ingests_total` reaches `at_least` and the index is idle again."""
    wait_for(
        lambda: index_status(daemon)["ingests_total"] >= at_least,
        timeout,
        f"ingests_total >= {at_least}",
    )
    return wait_idle(daemon)


def search(daemon: RunningDaemon, query: str, k: int = 10) -> list[dict]:
    with daemon.client() as client:
        return client.search(query, k=k)["results"]


def paths_found(daemon: RunningDaemon, query: str, k: int = 10) -> list[str]:
    return [hit["path"] for hit in search(daemon, query, k)]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
