"""cove adapters list | activate | rollback | delete: the fine-tuned adapters."""

from __future__ import annotations

import click

from cove.daemon.cli.output import (
    CliContext,
    api_errors,
    emit_json,
    info,
    json_option,
    local_time,
    pass_cli,
    running_client,
)


@click.group()
def adapters() -> None:
    """LoRA adapters trained by `cove train`, kept in COVE_HOME/adapters.

    One adapter at a time is loaded over the chat model. Activating loads it without
    restarting the daemon; a broken adapter is refused and the one in use stays.
    """


def _loss(metrics: dict, which: str) -> str:
    value = (metrics.get(which) or {}).get("heldout_loss")
    return f"{value:.3f}" if isinstance(value, int | float) else "-"


def _match(metrics: dict, which: str) -> str:
    value = (metrics.get(which) or {}).get("probe_match")
    return f"{value:.0%}" if isinstance(value, int | float) else "-"


@adapters.command("list")
@json_option
@pass_cli
@api_errors
def list_adapters(cli: CliContext, as_json: bool) -> None:
    """Adapters, newest first, with their eval results.

    Flags an adapter trained on data since deleted (a session, feedback or teach file).
    With --json: {"adapters": [{"id", "run_id", "created_at", "path", "base_model",
    "status", "metrics", "data_stats", "active", "trained_on_removed_data",
    "removed_sources"}]}.
    """
    with running_client(cli) as client:
        doc = client.adapters()
    if as_json:
        emit_json(doc)
        return
    if not doc["adapters"]:
        info("no adapters yet: `cove train now` trains one")
        return
    for adapter in doc["adapters"]:
        metrics = adapter["metrics"]
        mark = "*" if adapter["active"] else " "
        when = local_time(adapter["created_at"])
        line = (
            f"{mark} {adapter['id']}  {when}  {adapter['status']:<8}  "
            f"held-out loss {_loss(metrics, 'base')} -> {_loss(metrics, 'adapter')}  "
            f"facts {_match(metrics, 'base')} -> {_match(metrics, 'adapter')}"
        )
        if adapter["trained_on_removed_data"]:
            line += f"  [trained on removed data: {adapter['removed_sources']} sources]"
        click.echo(line)


@adapters.command()
@click.argument("adapter_id", metavar="ID")
@json_option
@pass_cli
@api_errors
def activate(cli: CliContext, adapter_id: str, as_json: bool) -> None:
    """Load adapter ID into the running model."""
    with running_client(cli) as client:
        doc = client.activate_adapter(adapter_id)
    if as_json:
        emit_json(doc)
    else:
        info(f"adapter {adapter_id} is active")


@adapters.command()
@json_option
@pass_cli
@api_errors
def rollback(cli: CliContext, as_json: bool) -> None:
    """Go back to the adapter that was active before (or to none)."""
    with running_client(cli) as client:
        doc = client.rollback_adapter()
    if as_json:
        emit_json(doc)
    else:
        info(f"now using: {doc['adapter'] or 'no adapter'}")


@adapters.command()
@click.argument("adapter_id", metavar="ID")
@click.option("--name", help="The Ollama model's name (default: cove-ID).")
@click.option("--base", help="An Ollama model or GGUF path to build on (default: the adapter's).")
@json_option
@pass_cli
@api_errors
def ollama(
    cli: CliContext, adapter_id: str, name: str | None, base: str | None, as_json: bool
) -> None:
    """Create an Ollama model from adapter ID: its base model with the adapter applied.

    Uses Ollama's create API at [ollama] host (the base GGUF and the adapter are uploaded
    as blobs, as `ollama create` does with a Modelfile of FROM and ADAPTER). Then
    `cove models use ollama:NAME` serves answers from it.

    With --json: {"model", "base", "status"}.
    """
    with running_client(cli) as client:
        doc = client.adapter_to_ollama(adapter_id, name, base)
    if as_json:
        emit_json(doc)
    else:
        info(f"created {doc['model']} ({doc['status']}): `cove models use {doc['model']}`")


@adapters.command()
@click.argument("adapter_id", metavar="ID")
@json_option
@pass_cli
@api_errors
def delete(cli: CliContext, adapter_id: str, as_json: bool) -> None:
    """Delete adapter ID and its files (not the active one)."""
    with running_client(cli) as client:
        doc = client.delete_adapter(adapter_id)
    if as_json:
        emit_json(doc)
    else:
        info(f"deleted adapter {adapter_id}")


def register(group: click.Group) -> None:
    group.add_command(adapters)
