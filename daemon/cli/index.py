"""cove index status | wait | errors | pause | resume | rescan | rebuild."""

from __future__ import annotations

import sys
import time

import click

from cove.daemon.cli.output import (
    CliContext,
    CommandError,
    api_errors,
    emit_json,
    ensure_daemon,
    info,
    json_option,
    pass_cli,
    running_client,
)
from cove.daemon.client import ApiError

# `index wait` wants the index idle for this long, so a change the watcher is about to
# report is not missed.
SETTLE_S = 0.5
POLL_S = 0.1


@click.group()
def index() -> None:
    """The index of your watched folders: progress, errors and maintenance."""


def progress_line(status: dict, width: int = 30) -> str:
    done = status["files"] + status["failed"] + status.get("skipped", 0)
    total = done + status["queued"] + status["in_progress"]
    fraction = done / total if total else 1.0
    bar = "#" * round(fraction * width) + "-" * (width - round(fraction * width))
    line = (
        f"[{bar}] {fraction:4.0%}  {status['state']:<8} {status['files']} files, "
        f"{status['chunks']} chunks, {status['queued']} queued, {status['failed']} failed"
    )
    if status.get("paused"):
        reason = status.get("paused_reason")
        line += f"  (paused: {reason})" if reason else "  (paused)"
    if status["current_file"]:
        line += f"\n  now: {status['current_file']}"
    if status.get("restore"):  # e.g. every chunk re-embedded after a change of embedder
        line += f"\n  vectors: {status['restore']['done']}/{status['restore']['total']} chunks"
    return line


@index.command()
@click.option("--follow", is_flag=True, help="Keep the bar live until the index is idle.")
@json_option
@pass_cli
@api_errors
def status(cli: CliContext, follow: bool, as_json: bool) -> None:
    """Show indexing progress as a bar: state, counts and the current file."""
    with running_client(cli) as client:
        if as_json:
            emit_json(client.index_status())
            return
        if not follow:
            click.echo(progress_line(client.index_status()))
            return
        for event, data in client.index_events():
            if event != "status" or not isinstance(data, dict):
                continue
            text = progress_line(data).replace("\n", "  ")
            sys.stderr.write("\r\033[K" + text[:160])
            sys.stderr.flush()
            if data["state"] == "idle":
                sys.stderr.write("\n")
                return


@index.command()
@click.option(
    "--timeout",
    type=float,
    default=600.0,
    show_default=True,
    help="Give up (exit 1) after this many seconds.",
)
@json_option
@pass_cli
@api_errors
def wait(cli: CliContext, timeout: float, as_json: bool) -> None:
    """Return (exit 0) once the index is idle: nothing queued, in flight or being scanned."""
    deadline = time.monotonic() + timeout
    idle_since: float | None = None
    with running_client(cli) as client:
        while True:
            doc = client.index_status()
            now = time.monotonic()
            if doc["state"] == "idle":
                idle_since = idle_since or now
                if now - idle_since >= SETTLE_S:
                    break
            else:
                idle_since = None
            if now > deadline:
                why = f"; paused: {doc['paused_reason']}" if doc.get("paused_reason") else ""
                raise CommandError(
                    f"the index is still {doc['state']} after {timeout:.0f} s "
                    f"({doc['queued']} queued{why})"
                )
            time.sleep(POLL_S)
    if as_json:
        emit_json(doc)
    else:
        info(f"index idle: {doc['files']} files, {doc['chunks']} chunks, {doc['failed']} failed")


@index.command()
@json_option
@pass_cli
@api_errors
def errors(cli: CliContext, as_json: bool) -> None:
    """List files that could not be indexed, with the reason, and why indexing is paused."""
    with running_client(cli) as client:
        doc = client.index_errors()
    if as_json:
        emit_json(doc)
        return
    if doc.get("paused_reason"):
        click.echo(f"indexing paused: {doc['paused_reason']}")
    if not doc["failed"]:
        info("no failed files")
    for row in doc["failed"]:
        click.echo(f"{row['path']}: {row['error']}")


def _action(name: str, summary: str) -> click.Command:
    @click.command(name=name, help=summary)
    @json_option
    @pass_cli
    @api_errors
    def command(cli: CliContext, as_json: bool) -> None:
        try:
            with ensure_daemon(cli) as client:
                doc = client.index_action(name)
        except ApiError as exc:  # e.g. a rebuild that failed: exit 1, and say why in JSON too
            if as_json:
                emit_json({"error": {"message": str(exc), "code": exc.code}})
            raise CommandError(str(exc)) from None
        if as_json:
            emit_json(doc)
        elif "rebuilt" in doc:
            rebuilt = doc["rebuilt"]
            info(f"rebuilt: {rebuilt['vectors']} vectors, {rebuilt['embedded']} embedded again")
        else:
            info(progress_line(doc))

    return command


for _name, _summary in [
    ("pause", "Pause indexing (changes are still collected and indexed on resume)."),
    ("resume", "Resume indexing."),
    ("rescan", "Compare every watched folder with the index now."),
    (
        "rebuild",
        "Recreate the vector store from cove.db, embedding again only what the cache lacks; "
        "returns when done (exit 1 if it failed).",
    ),
]:
    index.add_command(_action(_name, _summary))


def register(group: click.Group) -> None:
    group.add_command(index)
