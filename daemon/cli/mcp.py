"""cove mcp: Cove's MCP server (the MCP SDK is imported only when the command runs)."""

from __future__ import annotations

import click

from cove.daemon.cli.output import CliContext, CommandError, pass_cli

DEFAULT_HTTP_PORT = 8772  # the daemon's API is 8771


@click.command()
@click.option(
    "--http",
    "use_http",
    is_flag=True,
    help="Serve streamable HTTP on 127.0.0.1 instead of stdio; every request needs "
    "`Authorization: Bearer <COVE_HOME/token>`.",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    help=f"Port for --http (default {DEFAULT_HTTP_PORT}).",
)
@click.option(
    "--no-start",
    is_flag=True,
    help="Do not start the daemon when it is not running: the tools fail until it runs.",
)
@pass_cli
def mcp(cli: CliContext, use_http: bool, port: int | None, no_start: bool) -> None:
    """Serve your documents to MCP hosts (Claude Desktop, VS Code, …) over stdio.

    Tools: search_documents, read_document, list_folders and ask. Point the host at the
    command `cove mcp`. The daemon is started on the first tool call if it is not
    running (unless --no-start). With --http, serve http://127.0.0.1:PORT/mcp instead.
    """
    if port is not None and not use_http:
        raise click.UsageError("--port needs --http")
    # Imported here: the MCP SDK takes seconds to load, and only this command needs it.
    from cove.daemon.mcp import serve_http, serve_stdio

    config = cli.config
    try:
        if use_http:
            serve_http(config, port or DEFAULT_HTTP_PORT, start_daemon=not no_start)
        else:
            serve_stdio(config, start_daemon=not no_start)
    except OSError as exc:  # e.g. the --http port is taken
        raise CommandError(str(exc)) from None
    except KeyboardInterrupt:
        pass  # Ctrl+C in a terminal is how a user stops it


def register(group: click.Group) -> None:
    group.add_command(mcp)
