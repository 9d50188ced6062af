"""A file on disk as the ingester sees it: its content hash, whether it changed since a
stat, why it could not be read, and whether an error is the file's fault at all."""

from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import stat
from pathlib import Path

from cove.daemon.ingest.diskspace import out_of_space


def file_hash(path: Path) -> str:
    """SHA-256 of a regular file's bytes; OSError for anything else."""
    digest = hashlib.sha256()
    # O_NONBLOCK: a file swapped for a FIFO since its stat must not block the open.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_error(exc: OSError) -> str:
    """A readable reason for a file that could not be read."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, FileNotFoundError):
        return "file vanished while reading"
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    return f"cannot read: {exc.strerror or exc}"


def changed_since(path: Path, before: os.stat_result) -> bool:
    """Whether `path` is no longer the file `before` describes: rewritten, truncated,
    replaced by another file (inode) or gone since that stat."""
    try:
        after = os.lstat(path)
    except OSError:
        return True
    return _identity(after) != _identity(before)


def _identity(info: os.stat_result) -> tuple[int, ...]:
    # ctime too: it moves even when a writer puts the old size and mtime back.
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def not_the_files_fault(exc: BaseException) -> bool:
    """A full disk or a failing database: no file's fault, so the batch stops (and is
    retried) instead of the file being failed."""
    return out_of_space(exc) or isinstance(exc, sqlite3.Error)
