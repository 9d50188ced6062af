"""Room to index: free space on COVE_HOME's disk, and writes refused for want of it.

A full disk must pause indexing, not drop batches half-written: the indexer asks `check()`
before each task and `failed(exc)` after one raised, and waits while either gives a reason.
The reason is what `cove status` and `cove index errors` show.
"""

from __future__ import annotations

import errno
import logging
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("cove.diskspace")

MB = 1_000_000  # as in `[index] max_file_mb` and the messages
SQLITE_FULL = 13
# How Chroma's Rust core and other libraries word an ENOSPC they do not raise as OSError.
FULL_WORDS = ("no space left on device", "disk is full", "os error 28", "disk quota exceeded")
# After a write failed for want of space, indexing waits for the disk to gain this much
# (or the reserve, if larger) over what it had then; the failed task would fail again.
REGAIN_BYTES = 1 * MB
# ... or for this long (doubling to RETRY_MAX_S), in case the full disk was another one
# (a loader's temp folder) and COVE_HOME's free space never grows.
RETRY_FIRST_S = 60.0
RETRY_MAX_S = 900.0


def out_of_space(exc: BaseException | None) -> bool:
    """Whether `exc`, or an exception it was raised from, is a write the disk refused."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(exc, sqlite3.Error) and code is not None and code & 0xFF == SQLITE_FULL:
            return True
        if any(words in str(exc).lower() for words in FULL_WORDS):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class DiskSpace:
    """Free space where the index lives, against the `[index] min_free_mb` reserve.

    `reason` is None while there is room; otherwise why indexing waits, with the free space
    measured at the last check.
    """

    def __init__(
        self,
        path: Path,
        min_free_mb: float,
        free_bytes: Callable[[Path], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.reserve = int(min_free_mb * MB)
        self._free_bytes = free_bytes or (lambda p: shutil.disk_usage(p).free)
        self._clock = clock
        self.reason: str | None = None
        self._failed_at_free: int | None = None  # free bytes when a write last failed
        self._retry_at = 0.0
        self._retry_s = RETRY_FIRST_S

    def free(self) -> int:
        try:
            return self._free_bytes(self.path)
        except OSError:  # COVE_HOME unreadable: nothing to measure, so nothing to wait for
            return 1 << 62

    def check(self) -> str | None:
        """Before a task: None when there is room to write, else why indexing waits."""
        free = self.free()
        short = free < self.reserve
        if not short and self._failed_at_free is not None:
            regained = free >= self._failed_at_free + max(self.reserve, REGAIN_BYTES)
            short = not regained and self._clock() < self._retry_at
        if short:
            if self.reason is None:
                log.warning("indexing paused: %s", self._describe(free))
            self.reason = self._describe(free)
            return self.reason
        if self.reason is not None:
            log.info("%.1f MB free on %s again: indexing resumes", free / MB, self.path)
        self.reason = None
        self._failed_at_free = None
        return None

    def explains(self, exc: BaseException) -> bool:
        """Whether a failed write is down to space: the disk said so, or (as with Chroma's
        "Failed to apply logs to the hnsw segment writer") it failed below the reserve."""
        return out_of_space(exc) or self.free() < max(self.reserve, REGAIN_BYTES)

    def failed(self, exc: BaseException) -> str | None:
        """After a task raised `exc`: the reason to wait for, if it was lack of space."""
        if not self.explains(exc):
            return None
        free = self.free()
        self._failed_at_free = free
        self._retry_at = self._clock() + self._retry_s
        self._retry_s = min(self._retry_s * 2, RETRY_MAX_S)
        self.reason = self._describe(free)
        log.warning("indexing paused: %s (%s)", self.reason, exc)
        return self.reason

    def succeeded(self) -> None:
        """A batch was written: the next failure waits the shortest time again."""
        self._retry_s = RETRY_FIRST_S

    def retry_now(self) -> None:
        """`cove index resume`: try again at once (the next check pauses again if need be)."""
        self._failed_at_free = None
        self.reason = None

    def _describe(self, free: int) -> str:
        wanted = self.reserve
        if self._failed_at_free is not None:
            wanted = max(wanted, self._failed_at_free + max(self.reserve, REGAIN_BYTES))
        return (
            f"no space left on device: {free / MB:.1f} MB free on {self.path}; "
            f"indexing waits until {wanted / MB:.1f} MB are free ([index] min_free_mb)"
        )


class NoSpaceError(RuntimeError):
    """Work refused because the disk is full (the message is the status' `paused_reason`)."""
