"""The `cove` command line: a thin click layer over the daemon's API, grouped by noun."""

from __future__ import annotations

import click

from cove.daemon import __version__
from cove.daemon.cli import (
    adapters,
    ask,
    chat,
    daemon,
    doctor,
    evaluate,
    feedback,
    folders,
    index,
    mcp,
    memory,
    models,
    search,
    service,
    sessions,
    teach,
    train,
)
from cove.daemon.cli.output import EXIT_USAGE
from cove.daemon.paths import private_umask


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cove")
def cli() -> None:
    """Cove: an offline personal assistant. Chat with a local model about your own files.

    Everything runs on this machine. A background daemon owns the model and the index;
    these commands talk to it over 127.0.0.1 with the token in COVE_HOME/token.

    \b
    Exit codes: 0 ok, 1 error, 2 usage, 3 daemon not running.
    Environment: COVE_HOME (data dir), COVE_PORT (API port, default 8771).
    """
    # Before any command writes: whichever runs first (`cove teach`, `cove start`, ...)
    # creates COVE_HOME, and the daemon, the MCP server and the TUI all run under this group.
    private_umask()


for module in (
    daemon,
    ask,
    chat,
    sessions,
    feedback,
    folders,
    search,
    index,
    evaluate,
    models,
    teach,
    memory,
    train,
    adapters,
    mcp,
    service,
    doctor,
):
    module.register(cli)


def main() -> None:
    try:
        cli.main(prog_name="cove", standalone_mode=True)
    except click.exceptions.UsageError as exc:  # pragma: no cover - standalone handles it
        exc.show()
        raise SystemExit(EXIT_USAGE) from None
