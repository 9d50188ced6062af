"""cove sessions list | show | rename | export | delete: the conversations Cove keeps."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cove.daemon.cli.ask import unsupported_lines
from cove.daemon.cli.output import (
    CliContext,
    CommandError,
    api_errors,
    emit_json,
    info,
    json_option,
    local_time,
    pass_cli,
    running_client,
)
from cove.daemon.client.sources import NOT_CITED, cited, location


@click.group()
def sessions() -> None:
    """Your conversations with Cove, kept in cove.db.

    List, search, read, rename, export and delete them.
    Every `cove ask` belongs to a session (its `session_id`); answers can be rated and
    corrected with `cove feedback`. These commands need the daemon (`cove start`).
    """


@sessions.command("list")
@click.option(
    "--search", "query", metavar="TEXT", help="Only sessions whose title or messages contain TEXT."
)
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many.")
@json_option
@pass_cli
@api_errors
def list_(cli: CliContext, query: str | None, limit: int | None, as_json: bool) -> None:
    """List sessions, most recent first.

    Each line: id, last activity, number of messages, title.

    With --json: {"sessions": [{"id", "title", "general", "created_at", "updated_at",
    "messages", "last_activity"}]}.
    """
    with running_client(cli) as client:
        doc = client.sessions(query, limit)
    if as_json:
        emit_json(doc)
        return
    if not doc["sessions"]:
        info("no matching sessions" if query else "no sessions yet: ask with `cove ask`")
    for session in doc["sessions"]:
        click.echo(
            f"{session['id']}  {local_time(session['last_activity'])}  "
            f"{session['messages']:>3} msgs  {session['title']}"
        )


def source_text(source: dict) -> str:
    """`[1] /notes/a.md  Ferries > Times, lines 12-18` (uncited ones say so)."""
    heading = source.get("heading") or []
    where = [" > ".join(heading) if isinstance(heading, list) else str(heading), location(source)]
    detail = ", ".join(w for w in where if w)
    mark = "" if cited(source) else f"  {NOT_CITED}"
    return f"[{source.get('n')}] {source.get('path')}  {detail}".rstrip() + mark


def _print_message(message: dict) -> None:
    if message["role"] != "assistant":
        click.echo(f"you> {message['content']}")
        return
    kind = "" if message["grounded"] else "  (general knowledge)"
    click.echo(f"cove> {message['content']}")
    click.echo(f"      [{message['id']}]{kind}")
    for line in unsupported_lines(message.get("claims") or []):
        click.echo(f"      {line}")
    for source in message["sources"]:
        click.echo(f"      {source_text(source)}")
    feedback = message["feedback"]
    if feedback and feedback["rating"]:
        click.echo(f"      rated {feedback['rating']}")
    if feedback and feedback["correction"]:
        click.echo(f"      correction: {feedback['correction']}")


@sessions.command()
@click.argument("session_id", metavar="ID")
@json_option
@pass_cli
@api_errors
def show(cli: CliContext, session_id: str, as_json: bool) -> None:
    """Show a session's questions and answers.

    Every turn of session ID, with the answers' message ids (for `cove feedback`), their
    sources and the feedback given.

    With --json: {"session": {...}, "messages": [{"id", "session_id", "role", "content",
    "grounded", "model", "adapter", "sources", "timings", "claims", "learned",
    "created_at", "feedback"}]}.
    """
    with running_client(cli) as client:
        doc = client.session(session_id)
    if as_json:
        emit_json(doc)
        return
    session = doc["session"]
    click.echo(session["title"])
    click.echo(
        f"{session['id']}  started {local_time(session['created_at'])}, "
        f"{session['messages']} messages\n"
    )
    for message in doc["messages"]:
        _print_message(message)
        if message["role"] == "assistant":
            click.echo("")


@sessions.command()
@click.argument("session_id", metavar="ID")
@click.argument("title")
@json_option
@pass_cli
@api_errors
def rename(cli: CliContext, session_id: str, title: str, as_json: bool) -> None:
    """Rename a session: give session ID the title TITLE."""
    with running_client(cli) as client:
        doc = client.rename_session(session_id, title)
    if as_json:
        emit_json(doc)
    else:
        info(f"renamed {doc['session']['id']}: {doc['session']['title']}")


@sessions.command()
@click.argument("session_id", metavar="ID")
@click.option(
    "--format",
    "format_",
    type=click.Choice(["md", "json"]),
    help="Markdown (default) or JSON.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write to this file instead of stdout.",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Same as --format json; with -o, print a JSON summary of what was written.",
)
@pass_cli
@api_errors
def export(
    cli: CliContext, session_id: str, format_: str | None, output: Path | None, as_json: bool
) -> None:
    """Export a session as Markdown or JSON.

    The Markdown has the title, each turn, the sources under each answer and the feedback
    given; --format json gives the `cove sessions show --json` document. Written to stdout
    unless -o FILE is given.
    """
    if as_json and format_ == "md" and output is None:
        raise click.UsageError("--json prints JSON: leave out --format md or add -o FILE")
    format_ = format_ or ("json" if as_json and output is None else "md")
    with running_client(cli) as client:
        doc = client.export_session(session_id, format_)
    text = doc if isinstance(doc, str) else json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    if as_json:
        emit_json(
            {
                "session_id": session_id,
                "format": format_,
                "path": str(output.resolve()),
                "bytes": len(text.encode()),
            }
        )
    else:
        info(f"wrote {output} ({format_})")


@sessions.command()
@click.argument("session_id", metavar="ID")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_cli
@api_errors
def delete(cli: CliContext, session_id: str, yes: bool, as_json: bool) -> None:
    """Delete a session and its messages.

    Deletes session ID, its messages and their feedback. On a terminal it asks first,
    unless --yes is given.

    With --json: {"deleted": {"id", "messages", "feedback", "training_examples_forgotten"}}.
    """
    with running_client(cli) as client:
        if not yes and sys.stdin.isatty():
            session = client.session(session_id)["session"]
            question = (
                f"Delete session {session['id']} \u201c{session['title']}\u201d and its "
                f"{session['messages']} messages?"
            )
            if not click.confirm(question, err=True):
                raise CommandError("nothing deleted")
        doc = client.delete_session(session_id)
    if as_json:
        emit_json(doc)
    else:
        deleted = doc["deleted"]
        info(f"deleted {deleted['id']} ({deleted['messages']} messages)")


def register(group: click.Group) -> None:
    group.add_command(sessions)
