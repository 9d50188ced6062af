"""cove models list | use: the chat model the daemon runs."""

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


@click.group()
def models() -> None:
    """List chat models and choose the one the daemon runs."""


@models.command("list")
@json_option
@pass_cli
@api_errors
def list_models(cli: CliContext, as_json: bool) -> None:
    """List chat models: the embedded default, GGUFs in COVE_HOME/models, Ollama's models."""
    with ensure_daemon(cli) as client:
        doc = client.models()
    if as_json:
        emit_json(doc)
        return
    for model in doc["models"]:
        mark = "*" if model["current"] else " "
        where = model["path"] or model["backend"]
        click.echo(f"{mark} {model['name']:<32} {model['backend']:<10} {where}")


@models.command("use")
@click.argument("name")
@json_option
@pass_cli
@api_errors
def use_model(cli: CliContext, name: str, as_json: bool) -> None:
    """Load NAME (a listed model, a .gguf path or ollama:<name>) and keep it as current.

    If NAME cannot be loaded the current model stays and the command exits 1.
    """
    with ensure_daemon(cli) as client:
        doc = client.use_model(name)
    if as_json:
        emit_json(doc)
    else:
        info(f"now using {doc['current']}")


def register(group: click.Group) -> None:
    group.add_command(models)
