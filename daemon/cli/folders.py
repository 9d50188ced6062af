"""cove folders add | list | remove: the folders Cove keeps indexed."""

from __future__ import annotations

from pathlib import Path

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
def folders() -> None:
    """Watch folders: their files are indexed as they appear, change, move and disappear."""


@folders.command("add")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--ignore",
    "ignore",
    multiple=True,
    metavar="GLOB",
    help="Also ignore paths matching GLOB (gitignore syntax); repeatable.",
)
@json_option
@pass_cli
@api_errors
def add(cli: CliContext, path: Path, ignore: tuple[str, ...], as_json: bool) -> None:
    """Watch PATH. Returns at once; indexing goes on in the daemon (`cove index status`)."""
    with ensure_daemon(cli) as client:
        doc = client.add_folder(str(path.expanduser().resolve()), list(ignore))
    if as_json:
        emit_json(doc)
    else:
        info(f"watching {doc['folder']['path']}; indexing in the background (`cove index status`)")


@folders.command("list")
@json_option
@pass_cli
@api_errors
def list_(cli: CliContext, as_json: bool) -> None:
    """List watched folders with their indexed files, chunks and failures."""
    with ensure_daemon(cli) as client:
        doc = client.folders()
    if as_json:
        emit_json(doc)
        return
    if not doc["folders"]:
        info("no watched folders: add one with `cove folders add PATH`")
    for folder in doc["folders"]:
        ignore = f"  ignore: {', '.join(folder['ignore'])}" if folder["ignore"] else ""
        click.echo(
            f"{folder['path']}  {folder['files']} files, {folder['chunks']} chunks, "
            f"{folder['failed']} failed{ignore}"
        )


@folders.command("remove")
@click.argument("path", type=click.Path(path_type=Path))
@json_option
@pass_cli
@api_errors
def remove(cli: CliContext, path: Path, as_json: bool) -> None:
    """Stop watching PATH and delete its chunks from the index."""
    with ensure_daemon(cli) as client:
        doc = client.remove_folder(str(path.expanduser().resolve()))
    if as_json:
        emit_json(doc)
    else:
        info(f"stopped watching {doc['removed']['path']}; its chunks are being removed")


def register(group: click.Group) -> None:
    group.add_command(folders)
