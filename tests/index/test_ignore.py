"""Ignore rules: defaults, .gitignore and .coveignore at any depth, and folder globs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cove.index.ignore import IgnoreRules


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in [
        "notes.md",
        "src/app.py",
        "src/build/out.txt",
        ".hidden.md",
        ".git/config",
        "node_modules/pkg/index.js",
        "env1/pyvenv.cfg",
        "env1/lib/site.py",
        "docs/draft.md",
        "docs/keep.md",
        "docs/sub/secret.txt",
        "logs/a.log",
        "data/x.csv",
    ]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    (tmp_path / ".gitignore").write_text("*.log\nsrc/build/\n")
    (tmp_path / "docs" / ".coveignore").write_text("draft.md\nsub/\n")
    return tmp_path


def walked(rules: IgnoreRules, root: Path) -> set[str]:
    return {str(Path(e.path).relative_to(root)) for e in rules.walk()}


def test_walk_applies_every_rule(tree):
    rules = IgnoreRules(tree, globs=["data/*.csv"])
    assert walked(rules, tree) == {"notes.md", "src/app.py", "docs/keep.md"}


def test_hidden_and_default_folders_are_ignored(tree):
    rules = IgnoreRules(tree)
    assert rules.is_ignored(tree / ".hidden.md")
    assert rules.is_ignored(tree / ".git" / "config")
    assert rules.is_ignored(tree / "node_modules" / "pkg" / "index.js")
    assert rules.is_ignored(tree / "env1" / "lib" / "site.py")  # a virtualenv under any name
    assert not rules.is_ignored(tree / "notes.md")


def test_ignore_files_apply_relative_to_their_folder(tree):
    rules = IgnoreRules(tree)
    assert rules.is_ignored(tree / "logs" / "a.log")
    assert rules.is_ignored(tree / "src" / "build" / "out.txt")
    assert rules.is_ignored(tree / "docs" / "draft.md")
    assert rules.is_ignored(tree / "docs" / "sub" / "secret.txt")
    assert not rules.is_ignored(tree / "draft.md")  # docs/.coveignore does not reach up


def test_changed_ignore_files_are_reread(tree):
    rules = IgnoreRules(tree)
    assert not rules.is_ignored(tree / "notes.md")
    (tree / ".coveignore").write_text("notes.md\n")
    assert rules.is_ignored(tree / "notes.md")


def test_paths_outside_the_root_and_excluded_paths_are_ignored(tree, tmp_path):
    rules = IgnoreRules(tree / "docs", exclude=[tree / "docs" / "keep.md"])
    assert rules.is_ignored(tree / "notes.md")
    assert rules.is_ignored(tree / "docs" / "keep.md")
