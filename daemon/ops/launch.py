"""Starting and stopping a background daemon from a client process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cove.daemon.client import CoveClient, DaemonNotRunningError, daemon_info, process_alive
from cove.daemon.config import Config


class StartFailedError(RuntimeError):
    """The background daemon exited or did not get ready in time."""


def start_background(config: Config, timeout: float) -> dict:
    """Start `cove serve` detached; return daemon.json once the API answers.

    A daemon that is already running is returned as is.
    """
    home = config.paths.home
    info = daemon_info(home)
    if info:
        return info
    config.paths.ensure()
    env = {**os.environ, "COVE_HOME": str(home), "COVE_PORT": str(config.port)}
    out = config.paths.daemon_out
    offset = out.stat().st_size if out.exists() else 0
    with out.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cove.daemon", "serve", "--detached"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # survives the terminal that started it
            cwd=home,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise StartFailedError(
                f"the daemon exited with code {code}:\n{_tail(out, offset)}".rstrip()
            )
        info = daemon_info(home)
        if info and info.get("pid") == proc.pid and _answers(home):
            return info
        time.sleep(0.1)
    proc.terminate()
    raise StartFailedError(
        f"the daemon was not ready after {timeout:.0f} s (see {config.paths.log_file}); "
        "raise --timeout on a slow machine"
    )


def _answers(home: Path) -> bool:
    try:
        with CoveClient.from_home(home, timeout=5) as client:
            client.status()
        return True
    except (DaemonNotRunningError, OSError):
        return False


def _tail(path: Path, offset: int, lines: int = 15) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def stop_daemon(home: Path, timeout: float = 30.0) -> int:
    """SIGTERM the daemon and wait for it to exit; return its pid.

    Raises DaemonNotRunningError when there is none, TimeoutError if it does not exit.
    """
    info = daemon_info(home)
    if info is None:
        raise DaemonNotRunningError(f"the Cove daemon is not running (COVE_HOME={home})")
    pid = int(info["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid):
            return pid
        time.sleep(0.1)
    raise TimeoutError(f"the daemon (pid {pid}) did not stop within {timeout:.0f} s")
