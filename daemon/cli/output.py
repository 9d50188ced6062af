"""What every command shares: exit codes, `--json`, errors, reaching the daemon."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import click

from cove.daemon.client import ApiError, CoveClient, DaemonNotRunningError
from cove.daemon.config import Config, ConfigError, load_config

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_RUNNING = 3


class CommandError(click.ClickException):
    """A failure reported as one line on stderr with exit code 1 (or another code)."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file: Any = None) -> None:
        click.echo(f"cove: {self.format_message()}", err=True)


@dataclass
class CliContext:
    _config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config()
            except ConfigError as exc:
                raise CommandError(str(exc)) from None
        return self._config


pass_cli = click.make_pass_decorator(CliContext, ensure=True)

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON on stdout (human text goes to stderr)."
)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def local_time(timestamp: float | None) -> str:
    """An epoch time as the commands print it: local "YYYY-MM-DD HH:MM", "-" if unknown."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)) if timestamp else "-"


def info(message: str) -> None:
    """Human text and progress: stderr, so `--json` output stays clean."""
    click.echo(message, err=True)


def api_errors(fn: Callable) -> Callable:
    """Turn client exceptions into CommandErrors with the documented exit codes."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except DaemonNotRunningError as exc:
            raise CommandError(f"{exc}; start it with `cove start`", EXIT_NOT_RUNNING) from None
        except ApiError as exc:
            raise CommandError(str(exc)) from None

    return wrapper


def running_client(cli: CliContext) -> CoveClient:
    """A client of the running daemon, or exit 3."""
    return CoveClient.from_home(cli.config.paths.home)


def ensure_daemon(cli: CliContext, timeout: float | None = None) -> CoveClient:
    """A client of the daemon, starting it (and saying so on stderr) if needed."""
    from cove.daemon.client import daemon_info
    from cove.daemon.ops.launch import StartFailedError, start_background

    config = cli.config
    if daemon_info(config.paths.home) is None:
        info("Starting the Cove daemon…")
        try:
            start_background(config, timeout or config.daemon.start_timeout)
        except StartFailedError as exc:
            raise CommandError(f"could not start the daemon: {exc}") from None
    return CoveClient.from_home(config.paths.home)
