"""Which paths in a watched folder Cove never reads.

Ignored: hidden files and folders, version-control and dependency folders, virtualenvs,
anything matched by a `.gitignore` or `.coveignore` in the folder or its subfolders
(gitignore syntax, relative to the file's own folder), and the folder's own globs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pathspec

IGNORE_FILES = (".gitignore", ".coveignore")
DEFAULT_DIRS = frozenset({"node_modules", "__pycache__", "venv", "virtualenvs", "site-packages"})


class IgnoreRules:
    """Ignore decisions for one watched folder, with ignore files read lazily and cached."""

    def __init__(self, root: Path, globs: Sequence[str] = (), exclude: Sequence[Path] = ()) -> None:
        self.root = root
        self._exclude = tuple(exclude)  # e.g. COVE_HOME: Cove never indexes its own data
        self._globs = pathspec.PathSpec.from_lines("gitwildmatch", globs)
        self._specs: dict[Path, tuple[tuple[float, ...], pathspec.PathSpec | None]] = {}
        # During a walk each folder's ignore files are checked once, not once per file.
        self._checked: set[Path] | None = None

    def forget(self, directory: Path | None = None) -> None:
        """Drop cached ignore files (all, or one folder's) after they changed."""
        if directory is None:
            self._specs.clear()
        else:
            self._specs.pop(directory, None)

    def _spec(self, directory: Path) -> pathspec.PathSpec | None:
        cached = self._specs.get(directory)
        if cached and self._checked is not None and directory in self._checked:
            return cached[1]
        stamps = tuple(_mtime(directory / name) for name in IGNORE_FILES)
        if self._checked is not None:
            self._checked.add(directory)
        if cached and cached[0] == stamps:
            return cached[1]
        lines: list[str] = []
        for name, stamp in zip(IGNORE_FILES, stamps, strict=True):
            if stamp:
                with contextlib.suppress(OSError):  # vanished since the stat: no rules
                    lines += (directory / name).read_text(errors="replace").splitlines()
        spec = pathspec.PathSpec.from_lines("gitwildmatch", lines) if lines else None
        self._specs[directory] = (stamps, spec)
        return spec

    def is_ignored(self, path: Path, is_dir: bool = False) -> bool:
        """True for paths Cove must never read. `path` must lie inside the root."""
        try:
            parts = path.relative_to(self.root).parts
        except ValueError:
            return True
        if not parts:
            return False
        if any(path == ex or ex in path.parents for ex in self._exclude):
            return True
        for index, name in enumerate(parts):
            last = index == len(parts) - 1
            if (
                name.startswith(".")
                or (not last or is_dir)
                and _is_default_dir(self.root.joinpath(*parts[: index + 1]), name)
            ):
                return True
        relative = "/".join(parts) + ("/" if is_dir else "")
        if self._globs.match_file(relative):
            return True
        directory = self.root
        for index in range(len(parts)):
            spec = self._spec(directory)
            if spec is not None:
                sub = "/".join(parts[index:]) + ("/" if is_dir else "")
                if spec.match_file(sub):
                    return True
            directory = directory / parts[index]
        return False

    def walk(self, start: Path | None = None) -> Iterator[os.DirEntry]:
        """Every non-ignored file (and symlink) under `start` (default: the root), pruning
        ignored folders early."""
        self._checked = set()
        try:
            yield from self._walk(start or self.root)
        finally:
            self._checked = None

    def _walk(self, start: Path) -> Iterator[os.DirEntry]:
        stack = [start]
        while stack:
            directory = stack.pop()
            try:
                entries = list(os.scandir(directory))
            except OSError:
                continue  # vanished or unreadable folder: its files are simply not seen
            for entry in entries:
                path = Path(entry.path)
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if self.is_ignored(path, is_dir=is_dir):
                    continue
                if is_dir:
                    stack.append(path)
                else:
                    yield entry


def _is_default_dir(path: Path, name: str) -> bool:
    if name in DEFAULT_DIRS:
        return True
    return (path / "pyvenv.cfg").exists()  # a virtualenv under any name


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
