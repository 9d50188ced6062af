"""Watched folders as the indexer and the watcher look them up: each root and its ignore rules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from cove.index import manifest
from cove.index.ignore import IgnoreRules

Rules = dict[int, tuple[Path, IgnoreRules]]  # folder id -> (root, ignore rules)


def load_rules(db: sqlite_utils.Database, home: Path) -> Rules:
    """Every watched folder's root and ignore rules; COVE_HOME is always left out."""
    rules: Rules = {}
    for folder in manifest.list_folders(db):
        root = Path(folder["path"])
        rules[folder["id"]] = (root, IgnoreRules(root, folder["ignore"], exclude=[home]))
    return rules


def check_new_folder(path: Path, home: Path, rules: Rules) -> Path:
    """The resolved root of a folder that may be watched; raises ValueError why not."""
    root = path.expanduser().resolve()
    if not root.is_dir():
        raise ValueError(f"not a folder: {path}")
    home = home.resolve()
    if root == home or home in root.parents:
        raise ValueError("Cove's own data folder (COVE_HOME) cannot be watched")
    for other, _ in rules.values():
        if other != root and (other in root.parents or root in other.parents):
            relation = "inside" if other in root.parents else "around"
            raise ValueError(
                f"{root} is {relation} the watched folder {other}; remove that one first"
            )
    return root


def folder_for(rules: Rules, path: Path) -> tuple[int, IgnoreRules] | None:
    """The watched folder containing `path` (folders never nest: check_new_folder refuses)."""
    for folder_id, (root, ignore) in rules.items():
        if path == root or root in path.parents:
            return folder_id, ignore
    return None


class WatchedFolders:
    """The watched folders as last read from cove.db, and who hears when the set changes
    (the watcher's `sync`)."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.rules: Rules = {}
        self._listeners: list[Callable[[], None]] = []

    def reload(self, db: sqlite_utils.Database) -> None:
        self.rules = load_rules(db, self.home)
        self._changed()

    def add(self, db: sqlite_utils.Database, path: Path, ignore: list[str]) -> dict:
        """Watch a folder (its manifest row). Raises ValueError why not."""
        root = check_new_folder(path, self.home, self.rules)
        folder = manifest.add_folder(db, str(root), ignore)
        self.reload(db)
        return folder

    def remove(self, db: sqlite_utils.Database, path: Path) -> dict:
        """Stop watching a folder (its chunks are the indexer's to delete). Raises
        LookupError if unknown."""
        root = str(path.expanduser().resolve())
        folder = manifest.get_folder(db, root) or manifest.get_folder(db, str(path))
        if folder is None:
            raise LookupError(f"not a watched folder: {path}")
        self.rules.pop(folder["id"], None)
        self._changed()
        return folder

    def on_change(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)

    def folder_for(self, path: Path) -> tuple[int, IgnoreRules] | None:
        return folder_for(self.rules, path)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()
