"""cove ask: one question, or an interactive loop when no question is given."""

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
)
from cove.daemon.client import CoveClient
from cove.daemon.client.sources import NOT_CITED, cited, location


@click.command()
@click.argument("question", required=False)
@click.option("--session", "session_id", help="Continue this session (default: a new one).")
@click.option("--general", is_flag=True, help="Answer from general knowledge, not documents.")
@click.option("--temperature", type=click.FloatRange(0, 2), help="Sampling temperature.")
@click.option("--seed", type=int, help="Sampling seed, for reproducible answers.")
@click.option("--max-tokens", type=click.IntRange(min=1), help="Longest answer, in tokens.")
@json_option
@pass_cli
@api_errors
def ask(
    cli: CliContext,
    question: str | None,
    session_id: str | None,
    general: bool,
    temperature: float | None,
    seed: int | None,
    max_tokens: int | None,
    as_json: bool,
) -> None:
    """Ask QUESTION and stream the answer; starts the daemon if needed.

    Cove answers from your watched folders and lists its numbered sources under the
    answer (cited ones first), or says it doesn't know when nothing relevant is found.
    With no watched folders, or with --general, it answers from general knowledge and
    says so.

    Without QUESTION, chat interactively (one session) until an empty line or Ctrl+D.
    With --json, print the result document instead: answer, grounded, session_id,
    message_id, sources, model, adapter, timings.
    """
    options = {
        k: v
        for k, v in {
            "general": general,
            "temperature": temperature,
            "seed": seed,
            "max_tokens": max_tokens,
        }.items()
        if v is not None
    }
    client = ensure_daemon(cli)
    with client:
        if question is None:
            if as_json:
                raise CommandError("--json needs a QUESTION", 2)
            _interactive(client, session_id, options)
            return
        if as_json:
            emit_json(client.ask(question, session_id=session_id, **options))
            return
        _stream_answer(client, question, session_id, options)


def _stream_answer(
    client: CoveClient, question: str, session_id: str | None, options: dict
) -> dict:
    result: dict = {}
    replaced = None
    for event, data in client.ask_stream(question, session_id=session_id, **options):
        if event == "token":
            sys.stdout.write(data["text"])
            sys.stdout.flush()
        elif event == "done":
            result = data
        elif event == "replace":
            replaced = data["text"]
        elif event == "error":
            raise CommandError(data.get("error", {}).get("message", str(data)))
    sys.stdout.write("\n")
    if replaced is not None:
        info("(that answer was not supported by your documents; what they say instead:)")
        sys.stdout.write(replaced + "\n")
    for line in unsupported_lines(result.get("claims") or []):
        info(line)
    if result.get("sources"):
        sys.stdout.write(format_sources(result["sources"]))
    if result.get("learned"):
        asked = result.get("learned_from", {}).get("question", "")
        info(f'(learned from you, not from your documents: trained on "{asked}")')
    elif result and not result.get("grounded"):
        info("(general knowledge, not from your documents)")
    return result


def unsupported_lines(claims: list[dict]) -> list[str]:
    """A note for each sentence of an answer that no source supports."""
    return [f"(not supported by your documents: {c['text']})" for c in claims if not c["supported"]]


def format_sources(sources: list[dict]) -> str:
    """The source list printed under an answer: cited ones first, as the daemon orders them."""
    lines = ["", "Sources:"]
    for source in sources:
        where = " > ".join(source["heading"])
        if place := location(source):
            where += f" ({place})"
        mark = "" if cited(source) else f"  {NOT_CITED}"
        if source.get("memory"):
            memory = source["memory"]
            day = time.strftime("%Y-%m-%d", time.localtime(memory["taught_at"]))
            lines.append(f"  [{source['n']}] you told me, {day}  ({memory['id']}){mark}")
            lines.append(f"      asked: {memory['question']}")
            lines.append(f"      {source['snippet']}")
            continue
        lines.append(f"  [{source['n']}] {source['path']}{mark}")
        if where.strip():
            lines.append(f"      {where.strip()}")
        quote = source.get("quote")
        if quote:
            lines.append(f'      "{quote["text"]}"{_lines(quote)}')
        else:
            lines.append(f"      {source['snippet']}")
    return "\n".join(lines) + "\n"


def _interactive(client: CoveClient, session_id: str | None, options: dict) -> None:
    info("Cove chat. Type a question and press Enter; an empty line or Ctrl+D quits.")
    while True:
        try:
            question = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            info("")
            return
        if not question:
            return
        sys.stdout.write("cove> ")
        result = _stream_answer(client, question, session_id, options)
        session_id = result.get("session_id", session_id)


def register(group: click.Group) -> None:
    group.add_command(ask)


def _lines(quote: dict) -> str:
    """ " (line 12)" or " (lines 12-13)" after a quote, or nothing without lines."""
    where = location(quote)
    return f" ({where})" if where else ""
