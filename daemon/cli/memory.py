"""cove memory list | add | forget | search: what you taught Cove, used in every answer."""

from __future__ import annotations

import click

from cove.daemon.cli.output import (
    CliContext,
    api_errors,
    emit_json,
    ensure_daemon,
    info,
    json_option,
    local_time,
    pass_cli,
)


@click.group()
def memory() -> None:
    """Memories: the facts you taught Cove (`cove teach`, corrections, Q&A files in the
    teach folder). Every grounded question searches them beside your documents, and an
    answer from one is cited "you told me, DATE"."""


def _line(memory: dict) -> str:
    return f"{memory['id']}  {local_time(memory['taught_at'])}  {memory['question']}"


@memory.command("list")
@json_option
@pass_cli
@api_errors
def list_(cli: CliContext, as_json: bool) -> None:
    """List memories: id, when taught, question (the answer on the next line).

    With --json: {"memories": [{"id", "question", "answer", "path", "line", "taught_at"}]}.
    """
    with ensure_daemon(cli) as client:
        doc = client.memories()
    if as_json:
        emit_json(doc)
        return
    if not doc["memories"]:
        info('no memories yet: `cove memory add "QUESTION" "ANSWER"`')
    for found in doc["memories"]:
        click.echo(_line(found))
        click.echo(f"    {found['answer']}")


@memory.command("add")
@click.argument("question")
@click.argument("answer")
@json_option
@pass_cli
@api_errors
def add(cli: CliContext, question: str, answer: str, as_json: bool) -> None:
    """Remember ANSWER to QUESTION: answers use it at once; training learns it later.

    With --json: {"memory": {...}} (the fields of `cove memory list --json`).
    """
    if not question.strip() or not answer.strip():
        raise click.UsageError("a memory needs a non-empty question and answer")
    with ensure_daemon(cli) as client:
        doc = client.remember(question, answer)
    if as_json:
        emit_json(doc)
    else:
        info(f"remembered {doc['memory']['id']} (in {doc['memory']['path']})")


@memory.command()
@click.argument("memory_id", metavar="ID")
@json_option
@pass_cli
@api_errors
def forget(cli: CliContext, memory_id: str, as_json: bool) -> None:
    """Forget memory ID: removed from its file, so from answers at once. Adapters trained
    on it are named (and flagged in `cove adapters list`): delete them or train anew.

    With --json: {"forgotten": {...}, "adapters_trained_on_it": [adapter ids]}.
    """
    with ensure_daemon(cli) as client:
        doc = client.forget_memory(memory_id)
    if as_json:
        emit_json(doc)
        return
    info(f"forgot {doc['forgotten']['id']}: {doc['forgotten']['question']}")
    for adapter_id in doc["adapters_trained_on_it"]:
        info(f"adapter {adapter_id} was trained on it (`cove adapters delete {adapter_id}`)")


@memory.command()
@click.argument("query")
@click.option("--limit", type=click.IntRange(1, 100), default=5, show_default=True)
@json_option
@pass_cli
@api_errors
def search(cli: CliContext, query: str, limit: int, as_json: bool) -> None:
    """The memories closest to QUERY, with their similarity (dense) and word overlap.

    With --json: {"query", "results": [{"memory": {...}, "dense", "keyword"}]}.
    """
    with ensure_daemon(cli) as client:
        doc = client.search_memories(query, limit)
    if as_json:
        emit_json(doc)
        return
    if not doc["results"]:
        info("no memories yet")
    for hit in doc["results"]:
        click.echo(f"{hit['dense']:.3f}  {_line(hit['memory'])}")
        click.echo(f"       {hit['memory']['answer']}")


def register(group: click.Group) -> None:
    group.add_command(memory)
