"""cove serve | start | stop | status: the daemon's lifecycle."""

from __future__ import annotations

import click

from cove.daemon.cli.output import (
    EXIT_NOT_RUNNING,
    CliContext,
    CommandError,
    api_errors,
    emit_json,
    info,
    json_option,
    pass_cli,
    running_client,
)


@click.command()
@click.option(
    "--detached",
    is_flag=True,
    hidden=True,
    help="Log to logs/cove.log only (used by `cove start`).",
)
@pass_cli
def serve(cli: CliContext, detached: bool) -> None:
    """Run the daemon in the foreground until Ctrl+C or SIGTERM."""
    from cove.daemon.serve import DaemonStartError
    from cove.daemon.serve import serve as run_daemon

    try:
        run_daemon(cli.config, foreground=not detached)
    except DaemonStartError as exc:
        raise CommandError(str(exc)) from None


@click.command()
@click.option(
    "--timeout",
    type=float,
    default=None,
    show_default="120",
    help="Seconds to wait for the API and the models.",
)
@json_option
@pass_cli
def start(cli: CliContext, timeout: float | None, as_json: bool) -> None:
    """Start the daemon in the background; return once it is ready."""
    from cove.daemon.client import daemon_info
    from cove.daemon.ops.launch import StartFailedError, start_background

    config = cli.config
    already = daemon_info(config.paths.home)
    try:
        started = already or start_background(config, timeout or config.daemon.start_timeout)
    except StartFailedError as exc:
        raise CommandError(f"could not start the daemon: {exc}") from None
    if as_json:
        emit_json({**started, "already_running": already is not None})
    else:
        state = "already running" if already else "started"
        info(f"Cove daemon {state}: pid {started['pid']}, http://127.0.0.1:{started['port']}")


@click.command()
@click.option(
    "--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for it to exit."
)
@json_option
@pass_cli
def stop(cli: CliContext, timeout: float, as_json: bool) -> None:
    """Stop the daemon gracefully (SIGTERM). Exit code 3 if it is not running."""
    from cove.daemon.client import DaemonNotRunningError
    from cove.daemon.ops.launch import stop_daemon

    try:
        pid = stop_daemon(cli.config.paths.home, timeout)
    except DaemonNotRunningError as exc:
        raise CommandError(str(exc), EXIT_NOT_RUNNING) from None
    except TimeoutError as exc:
        raise CommandError(str(exc)) from None
    if as_json:
        emit_json({"stopped": True, "pid": pid})
    else:
        info(f"Cove daemon stopped (pid {pid})")


@click.command()
@json_option
@pass_cli
@api_errors
def status(cli: CliContext, as_json: bool) -> None:
    """Show the daemon's pid, port, uptime, model, adapter and index. Exit 3 if stopped."""
    with running_client(cli) as client:
        doc = client.status()
    if as_json:
        emit_json(doc)
        return
    index = doc["index"]
    runtime = doc.get("runtime", {})
    lines = [
        f"Cove {doc['version']}  pid {doc['pid']}  http://127.0.0.1:{doc['port']}  "
        f"up {_duration(doc['uptime_s'])}",
        f"model    {doc['model']} ({runtime.get('backend', '?')}, "
        f"context {runtime.get('context', '?')})",
        f"adapter  {doc['adapter'] or 'none'}",
        f"index    {index['state']}: {index['files']} files, {index['chunks']} chunks, "
        f"{index['queued']} queued, {index['failed']} failed",
    ]
    if index.get("paused_reason"):
        lines.append(f"         paused: {index['paused_reason']}")
    click.echo("\n".join(lines))


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def register(group: click.Group) -> None:
    for command in (serve, start, stop, status):
        group.add_command(command)
