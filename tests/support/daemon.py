"""Start and stop real Cove daemons on loopback in temporary COVE_HOMEs."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cove.daemon.client import CoveClient

CLI = [sys.executable, "-m", "cove.daemon"]
START_TIMEOUT = 180
# Commands whose process is what a test is about (the daemon's lifecycle, the MCP server's
# stdio, the TUI's terminal): always a real `cove` subprocess. Every other command of
# `RunningDaemon.cove` runs in-process through click's CliRunner against the same real
# daemon, which saves an interpreter start per call.
SUBPROCESS_COMMANDS = {"start", "stop", "serve", "mcp", "chat", "service"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cove_env(home: Path, port: int, **extra: str) -> dict[str, str]:
    return {**os.environ, "COVE_HOME": str(home), "COVE_PORT": str(port), **extra}


def run_cove(
    *args: str,
    env: dict[str, str],
    timeout: float = 240,
    input: str | None = None,
    prefix: Sequence[str] = (),
) -> subprocess.CompletedProcess:
    """Run the real `cove` CLI in a subprocess (under `prefix`, e.g. setpriv, if given)."""
    return subprocess.run(
        [*prefix, *CLI, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
    )


def run_cove_in_process(
    *args: str, env: dict[str, str], input: str | None = None
) -> subprocess.CompletedProcess:
    """The `cove` CLI run by click's CliRunner in this process, reported like `run_cove`:
    the same exit code, stdout and stderr (an unexpected exception as its traceback)."""
    from click.testing import CliRunner

    from cove.daemon.cli import cli

    changed = {key: value for key, value in env.items() if os.environ.get(key) != value}
    umask = os.umask(0o022)  # the CLI sets 077 for its process: this process keeps its own
    os.umask(umask)
    try:
        result = CliRunner().invoke(cli, list(args), input=input, env=changed, prog_name="cove")
    finally:
        os.umask(umask)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(
        ["cove", *args], result.exit_code, stdout=result.stdout, stderr=stderr
    )


def without_root_file_access() -> list[str] | None:
    """A command prefix under which root obeys file modes (drops CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH), or None where setpriv cannot do it. Running as `nobody` is not
    possible here: the interpreter lives under /root."""
    prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    if shutil.which("setpriv") is None:
        return None
    probe = subprocess.run([*prefix, "true"], capture_output=True)
    return prefix if probe.returncode == 0 else None


@dataclass
class RunningDaemon:
    home: Path
    port: int
    env: dict[str, str]
    info: dict = field(default_factory=dict)
    prefix: Sequence[str] = ()

    @property
    def token(self) -> str:
        return (self.home / "token").read_text().strip()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> CoveClient:
        return CoveClient.from_home(self.home)

    def cove(self, *args: str, **kwargs) -> subprocess.CompletedProcess:
        """Run `cove ARGS` against this daemon: in-process, or as a real subprocess for the
        commands in SUBPROCESS_COMMANDS and under a `prefix`."""
        if self.prefix or not args or args[0] in SUBPROCESS_COMMANDS:
            return run_cove(*args, env=self.env, prefix=self.prefix, **kwargs)
        kwargs.pop("timeout", None)  # in-process calls end when the command does
        return run_cove_in_process(*args, env=self.env, **kwargs)

    def start(self) -> RunningDaemon:
        done = self.cove("start", "--timeout", str(START_TIMEOUT), "--json")
        assert done.returncode == 0, f"cove start failed:\n{done.stderr}"
        self.info = json.loads(done.stdout)
        return self

    def stop(self) -> None:
        self.cove("stop", timeout=60)


def start_daemon(
    home: Path, config: str = "", prefix: Sequence[str] = (), **extra_env: str
) -> RunningDaemon:
    home.mkdir(parents=True, exist_ok=True)
    if config:
        (home / "config.toml").write_text(config)
    port = free_port()
    return RunningDaemon(home, port, cove_env(home, port, **extra_env), prefix=prefix).start()
