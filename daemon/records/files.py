"""Serving the text of indexed files (API, TUI, MCP), and only theirs.

A file is served only if it is indexed and its real path lies under a watched folder:
never an ignored, skipped or failed file, never a file reached through a symlink that
leaves the folder, never anything else on the disk.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from cove.index import manifest
from cove.index.document import LoadError, SkipFile
from cove.index.loaders import load_document
from cove.index.loaders.blocks import split_lines
from cove.index.loaders.reading import decode_text, looks_binary
from cove.index.pathnames import escape_path, unescape_path

# Formats whose bytes are the text (line numbers then match an editor's); others are read
# through their loader and served as the text Cove extracted.
TEXT_FORMATS = frozenset({"text", "markdown", "code", "rst", "org"})


class FileNotServedError(PermissionError):
    """The path is not an indexed file under a watched folder."""


class FileReadError(OSError):
    """An indexed file that cannot be read now (gone, changed to something unreadable)."""


@dataclass(frozen=True)
class FileText:
    path: str
    start_line: int
    end_line: int
    total_lines: int
    text: str

    def as_dict(self) -> dict:
        return {
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "total_lines": self.total_lines,
            "text": self.text,
        }


def servable(db: sqlite_utils.Database, requested: str) -> tuple[Path, dict]:
    """The real path of `requested` (as search results show it: an undecodable byte
    written `\\xHH`, see cove.index.pathnames) and its manifest row, if it may be served."""
    path = Path(unescape_path(requested)).expanduser()
    if not path.is_absolute():
        raise FileNotServedError(f"not an absolute path: {requested}")
    real = Path(os.path.realpath(path))
    row = manifest.get_file(db, escape_path(real))
    if row is None or row["status"] != manifest.INDEXED:
        raise FileNotServedError(f"not an indexed file in a watched folder: {requested}")
    roots = [Path(unescape_path(f["path"])) for f in manifest.list_folders(db)]
    if not any(real.is_relative_to(root) for root in roots):
        raise FileNotServedError(f"not an indexed file in a watched folder: {requested}")
    return real, row


def read_lines(
    db: sqlite_utils.Database,
    requested: str,
    start_line: int | None = None,
    end_line: int | None = None,
    max_bytes: int = 20_000_000,
) -> FileText:
    """Lines `start_line`..`end_line` (1-based, inclusive, both optional) of an indexed file."""
    real, row = servable(db, requested)
    # Counted as the loaders count them, so chunks' line ranges point at the same lines.
    lines = split_lines(_text(real, row.get("format") or "", max_bytes))
    total = len(lines)
    if total == 0 and (start_line or 1) == 1:
        return FileText(escape_path(real), 0, 0, 0, "")  # an empty file has no lines to cut
    start = max(1, start_line or 1)
    end = min(total, end_line or total)
    if start > total or start > end:
        raise ValueError(f"lines {start}-{end_line or total} are outside the file (1-{total})")
    return FileText(escape_path(real), start, end, total, "\n".join(lines[start - 1 : end]))


def _text(real: Path, file_format: str, max_bytes: int) -> str:
    if file_format in TEXT_FORMATS:
        return _read_text(real, max_bytes)
    try:
        document = load_document(real, max_bytes)
    except (SkipFile, LoadError) as exc:
        raise FileReadError(f"cannot read {real}: {exc}") from exc
    return "\n\n".join(block.text for block in document.blocks)


def _read_text(real: Path, max_bytes: int) -> str:
    # O_NOFOLLOW: the file checked above must not have been swapped for a symlink since.
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise FileReadError(f"cannot read {real}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes or looks_binary(data):
        raise FileReadError(f"cannot serve {real}: too large or no longer text")
    text, _ = decode_text(data)
    return text.replace("\r\n", "\n").replace("\r", "\n")
