"""The README cannot drift from the code: every command and subcommand of `cove` is in it,
and its `config.toml` block is the configuration's defaults, key for key."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import click
import pytest

from cove.daemon.cli import cli
from cove.daemon.config import SECTIONS

README = Path(__file__).resolve().parents[1] / "README.md"


def command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command's words under `group`, groups and their subcommands alike."""
    paths = []
    for name, command in sorted(group.commands.items()):
        if command.hidden:
            continue
        path = (*prefix, name)
        paths.append(path)
        if isinstance(command, click.Group):
            paths += command_paths(command, path)
    return paths


def documented(path: tuple[str, ...], text: str) -> bool:
    """`cove A B` is documented when a README table row for `cove A` names `B` in code.

    Rows join related subcommands (`cove adapters activate ID` / `rollback` / `delete ID`),
    so the subcommand may stand on its own in backticks or after `|`.
    """
    head, *rest = path
    rows = [line for line in text.splitlines() if line.startswith(f"| `cove {head}")]
    if not rest:
        return bool(rows)
    words = re.escape(" ".join(rest))
    pattern = re.compile(rf"cove {re.escape(head)} {words}\b|`{words}[` ]|\\\| {words}\b")
    return any(pattern.search(row) for row in rows)


ALL_COMMANDS = command_paths(cli)


def test_the_command_tree_is_walked():
    # guards the walk itself: top-level commands and nested subcommands both appear
    assert ("ask",) in ALL_COMMANDS and ("adapters", "rollback") in ALL_COMMANDS
    assert len(ALL_COMMANDS) > 40


@pytest.mark.parametrize("path", ALL_COMMANDS, ids=" ".join)
def test_every_command_is_in_the_readme(path):
    assert documented(path, README.read_text(encoding="utf-8")), (
        f"`cove {' '.join(path)}` is not in any README command table"
    )


def readme_config() -> dict:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    configs = [block for block in blocks if block.lstrip().startswith("[daemon]")]
    assert len(configs) == 1, "one ```toml block in the README must hold the whole config"
    return tomllib.loads(configs[0])


def test_the_readme_config_block_is_the_defaults():
    defaults = {
        section: {f.name: getattr(cls(), f.name) for f in dataclasses.fields(cls)}
        for section, cls in SECTIONS.items()
    }
    assert readme_config() == defaults
