"""TUI tests drive the real app (Pilot) against real daemons on loopback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from cove.daemon.client import CoveClient
from cove.tui.app import CoveApp
from tests.support.daemon import RunningDaemon, start_daemon
from tests.support.generation import sampling
from tests.support.kb import wait_idle, write

SKERRY = (
    "# Skerry Island lighthouse\n\n"
    "The lighthouse on Skerry Island was built by the engineer Ada Quill.\n"
)
QUESTION = "Who built the lighthouse on Skerry Island?"
# Reproducible answers: temperature 0 and a fixed seed (or perturbed, see the module).
SEEDED = sampling()


@pytest.fixture(scope="package")
def kb_daemon(tmp_path_factory: pytest.TempPathFactory) -> RunningDaemon:
    """One daemon for the TUI tests, watching a folder with the Skerry Island note."""
    docs = tmp_path_factory.mktemp("tui-docs")
    write(docs / "skerry.md", SKERRY)
    daemon = start_daemon(tmp_path_factory.mktemp("tui-home"))
    with daemon.client() as client:
        client.add_folder(str(docs))
    wait_idle(daemon)
    yield daemon
    daemon.stop()


def make_app(home: Path, **options: Any) -> CoveApp:
    """The real app, pointed at the daemon of `home` (polling fast, for tests).

    `app.notes` records every notification's text (toasts expire)."""
    options.setdefault("poll_interval", 0.5)
    app = CoveApp(lambda: CoveClient.from_home(home), **options)
    app.notes = []
    notify = app.notify

    def recording_notify(message: str, *args: Any, **kwargs: Any) -> None:
        app.notes.append(str(message))
        notify(message, *args, **kwargs)

    app.notify = recording_notify
    return app


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run an async Pilot scenario from a plain test."""
    asyncio.run(scenario())


async def wait_for(
    pilot: Pilot, check: Callable[[], object], timeout: float = 60, what: str = "condition"
) -> Any:
    """Let the app run until `check()` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)


async def daemon_up(pilot: Pilot) -> None:
    await wait_for(pilot, lambda: pilot.app.daemon == "up", 30, "the daemon to be up")


def noted(app: CoveApp, text: str) -> bool:
    """Whether a notification so far contained `text`."""
    return any(text in note for note in app.notes)
