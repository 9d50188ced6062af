"""cove search: hybrid search over the watched folders."""

from __future__ import annotations

import click

from cove.daemon.cli.output import (
    CliContext,
    api_errors,
    emit_json,
    ensure_daemon,
    info,
    json_option,
    pass_cli,
)


@click.command()
@click.argument("query")
@click.option("-k", "k", type=click.IntRange(1, 100), help="How many results (default 8).")
@json_option
@pass_cli
@api_errors
def search(cli: CliContext, query: str, k: int | None, as_json: bool) -> None:
    """Find the chunks of your files that best match QUERY (dense + BM25, fused, MMR)."""
    with ensure_daemon(cli) as client:
        doc = client.search(query, k=k)
    if as_json:
        emit_json({"query": doc["query"], "results": doc["results"]})
        return
    if not doc["results"]:
        info("no results")
    for hit in doc["results"]:
        where = hit["path"]
        if hit["page"]:
            where += f" p.{hit['page']}"
        elif hit["line_start"]:
            where += f":{hit['line_start']}-{hit['line_end']}"
        heading = " > ".join(hit["heading"])
        click.echo(f"{hit['rank']}. {where}" + (f"  [{heading}]" if heading else ""))
        # The sentence that matches the query best (an older daemon sends none).
        snippet = hit.get("snippet") or " ".join(hit["text"].split())
        click.echo(f"   {snippet[:240]}{'…' if len(snippet) > 240 else ''}")


def register(group: click.Group) -> None:
    group.add_command(search)
