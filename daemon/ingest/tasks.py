"""What the indexing worker is asked to do: a `Task`, and what a deleted, moved or new folder
means for the index.

Each function here takes what it works on and returns the tasks that follow from it (files
to look at again); the queue (`queue.py`) puts those in line.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from cove.daemon.ingest.pipeline import forget_files
from cove.index import manifest
from cove.index.ignore import IgnoreRules
from cove.index.pathnames import escape_path, unescape_path
from cove.index.vectors import VectorStore

# The watched folder containing a path: (folder id, its ignore rules), or None.
FolderFor = Callable[[Path], tuple[int, IgnoreRules] | None]


@dataclass
class Task:
    kind: str  # file(s) | delete | move | reconcile | scan_dir | remove_folder | rebuild | gc
    path: str = ""
    paths: list[str] = field(default_factory=list)
    dest: str = ""
    folder_id: int = 0
    done: Future | None = None  # for a caller waiting on the outcome (rebuild)


def forget_path(db: sqlite_utils.Database, store: VectorStore, path: str) -> None:
    """A deleted file or folder: it leaves the index, with everything under it."""
    key = escape_path(path)
    forget_files(db, store, manifest.paths_under(db, key) + [key])


def move_path(
    db: sqlite_utils.Database, store: VectorStore, src: str, dest: str, folder_for: FolderFor
) -> list[Task]:
    """A rename keeps its chunks and vectors; only the manifest path changes. What moves out
    of the watched folders (or into ignored paths) is forgotten."""
    # Manifest keys are escaped one name at a time, so a key's prefix is its folder's.
    src_key, dest_key = escape_path(src), escape_path(dest)
    moved = manifest.paths_under(db, src_key)
    if not moved and manifest.get_file(db, src_key) is None:
        follow = [Task("file", path=dest)]  # an unknown source: a new file or folder
        if Path(dest).is_dir():
            follow.append(Task("reconcile"))
        return follow
    follow = []
    pairs = [(src_key, dest_key)] + [(p, dest_key + p[len(src_key) :]) for p in moved]
    for old, new in pairs:
        row = manifest.get_file(db, old)
        new_path = Path(unescape_path(new))
        target = folder_for(new_path)
        if row is None:
            continue
        if target is None or target[1].is_ignored(new_path):
            forget_files(db, store, [old])
            continue
        manifest.rename_file(db, row["id"], new, target[0])
        # Cheap: same size and mtime, nothing to do.
        follow.append(Task("file", path=str(new_path)))
    return follow


def scan_dir(path: str, folder_for: FolderFor) -> list[Task]:
    """A folder created inside a watched one: each file in it that the rules let in."""
    found = folder_for(Path(path))
    if not found:
        return []
    return [Task("file", path=entry.path) for entry in found[1].walk(Path(path))]
