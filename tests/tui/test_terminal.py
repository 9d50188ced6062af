"""`cove chat` itself: in a real terminal (tmux), and its refusals outside one."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.daemon import RunningDaemon, cove_env, run_cove
from tests.tui.conftest import QUESTION

pytestmark = pytest.mark.slow  # real daemon processes (make test-fast skips them)

SCRIPT = Path(__file__).with_name("tmux_chat.sh")


@pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)"
)
def test_cove_chat_answers_in_a_real_terminal(kb_daemon: RunningDaemon) -> None:
    done = subprocess.run(
        ["bash", str(SCRIPT), QUESTION, "Ada Quill", f"{sys.executable} -m cove.daemon"],
        env=kb_daemon.env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    screen = done.stdout
    assert "You: " + QUESTION in screen
    assert "[1] skerry.md" in screen


def test_cove_chat_says_why_the_daemon_cannot_start(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cove("chat", env=cove_env(tmp_path / "home", port), timeout=120)
    assert done.returncode == 1
    assert "could not start the daemon" in done.stderr
    assert f"port {port} on 127.0.0.1 is in use" in done.stderr


def test_cove_chat_needs_a_terminal(kb_daemon: RunningDaemon) -> None:
    done = kb_daemon.cove("chat")
    assert done.returncode == 1
    assert "cove chat needs a terminal" in done.stderr


def test_cove_chat_names_an_unknown_session(kb_daemon: RunningDaemon) -> None:
    done = kb_daemon.cove("chat", "--session", "s_nope")
    assert done.returncode == 1
    assert "no session s_nope" in done.stderr
