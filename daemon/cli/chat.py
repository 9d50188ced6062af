"""cove chat: the terminal UI (imported only when the command runs)."""

from __future__ import annotations

import sys

import click

from cove.daemon.cli.output import CliContext, CommandError, api_errors, ensure_daemon, pass_cli
from cove.daemon.client import ApiError, CoveClient


@click.command()
@click.option("--session", "session_id", help="Open this session (default: a new chat).")
@click.option("--temperature", type=click.FloatRange(0, 2), help="Sampling temperature.")
@click.option("--seed", type=int, help="Sampling seed, for reproducible answers.")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Longest answer, in tokens.")
@pass_cli
@api_errors
def chat(
    cli: CliContext,
    session_id: str | None,
    temperature: float | None,
    seed: int | None,
    max_tokens: int | None,
) -> None:
    """Open Cove's terminal UI: chat, sessions, library and training.

    Starts the daemon if needed. Enter sends, Ctrl+J starts a new line, F1 lists the
    keys, Ctrl+P opens the command palette, Ctrl+Q quits.
    """
    with ensure_daemon(cli) as client:
        if session_id:
            _check_session(client, session_id)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CommandError("cove chat needs a terminal (use `cove ask` in scripts)")
    from cove.tui.app import CoveApp

    home = cli.config.paths.home
    options = {"temperature": temperature, "seed": seed, "max_tokens": max_tokens}
    app = CoveApp(
        lambda: CoveClient.from_home(home),
        session_id=session_id,
        ask_options={k: v for k, v in options.items() if v is not None},
    )
    app.run()


def _check_session(client: CoveClient, session_id: str) -> None:
    try:
        client.session(session_id)
    except ApiError as exc:
        if exc.status == 404:
            raise CommandError(f"no session {session_id} (see `cove sessions list`)") from None
        raise


def register(group: click.Group) -> None:
    group.add_command(chat)
