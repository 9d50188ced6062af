"""Loading in a child process, so that a parser that hangs or crashes costs one file.

PDF and Office parsers run on untrusted input: a crafted or broken file can make them
loop for minutes or crash the interpreter. `IsolatedLoader` keeps one long-lived child
process (started with "spawn": safe when the parent has threads, and portable), sends it
one path at a time over a Pipe and waits at most `timeout_s` for the Document. A child
that runs over is killed and replaced; one that dies is replaced on the next file.

With `memory_bytes`, the child's address space is capped (RLIMIT_AS): a zip bomb or a
decompression bomb fails its file as "too large when unpacked" instead of filling the
machine's memory.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import resource
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from types import TracebackType
from typing import Any

from cove.index.document import Document, LoadError, SkipFile

from . import load_document
from .reading import TOO_LARGE_UNPACKED

Loader = Callable[[Path, int], Document]

# How long a fresh child may take to start and import the parsers before the first file.
# Not part of any file's time limit: a cold start is not the file's fault.
STARTUP_TIMEOUT_S = 120.0
_PARSER_MODULES = ("text", "html", "pdf", "office", "epub")
# A file that failed after its child's address space came this close to the cap is taken
# to have run out of memory: C parsers (lxml) report a failed allocation as some other
# error, or crash.
NEAR_CAP = 0.8
# How often the parent looks at the child's memory while it waits for a file.
SAMPLE_S = 0.05


def _preload_parsers() -> None:
    """Import every parser up front so that no file's time limit pays for the imports."""
    for name in _PARSER_MODULES:
        # A missing parser is reported per file instead, as a LoadError naming the module.
        with contextlib.suppress(ImportError):
            importlib.import_module(f"{__package__}.{name}")


def _cap_memory(limit: int) -> None:
    """Lower this process's address-space limit to `limit` bytes."""
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    with contextlib.suppress(ValueError, OSError):  # not every OS can lower it (macOS)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _address_space(pid: int | str = "self", peak: bool = False) -> int | None:
    """A process's address space (or its peak) in bytes, where /proc tells it."""
    field_name = "VmPeak:" if peak else "VmSize:"
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith(field_name):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return None


def _out_of_memory(exc: BaseException | None) -> bool:
    """Whether `exc` is, or was raised while handling, a MemoryError."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, MemoryError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _serve(conn: Connection, loader: Loader, max_bytes: int, memory_bytes: int | None) -> None:
    """The child's main loop: receive a path, send back ("ok"|"skip"|"error", payload)."""
    # Ctrl+C in a terminal reaches the whole process group; the parent decides when the
    # child stops, so a stray SIGINT must not kill it in the middle of a file.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_bytes is not None:
        _cap_memory(memory_bytes)
    _preload_parsers()
    conn.send(("ready", None))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return  # the parent went away
        if request is None:
            return
        result: tuple[str, Any]
        error: BaseException | None = None
        try:
            result = ("ok", loader(Path(request), max_bytes))
        except SkipFile as exc:
            result = ("skip", str(exc))
        except LoadError as exc:
            result, error = ("error", str(exc)), exc
        except Exception as exc:  # a parser bug must fail this file, not the worker
            result, error = ("error", f"loader error: {type(exc).__name__}: {exc}"), exc
        near_cap = NEAR_CAP * memory_bytes if memory_bytes is not None else None
        exhausted = near_cap is not None and (_address_space(peak=True) or 0) >= near_cap
        if error is not None and (exhausted or _out_of_memory(error)):
            result = ("error", TOO_LARGE_UNPACKED)
        del error  # its traceback holds the frames, and their memory, of the failed parse
        try:
            conn.send(result)
        except (EOFError, OSError):
            return
        except Exception as exc:  # pickling failed; nothing was written yet
            conn.send(("error", f"loader error: result not transferable: {exc}"))


def _exit_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"loader process killed by {name}"
    return f"loader process crashed (exit code {exitcode})"


class IsolatedLoader:
    """Runs `load_document` in a reusable child process with a per-file time limit and,
    with `memory_bytes`, a memory cap.

    `load` raises the same SkipFile/LoadError as `load_document`, plus LoadError("timed
    out after N s"), LoadError("loader process crashed ...") for a child that hangs or
    dies, and LoadError("too large when unpacked") for one that ran out of memory under
    the cap; the next call gets a fresh child. Calls are serialised by a lock, so one
    instance may be shared by threads (it loads one file at a time). `loader` replaces
    `load_document`; it must be a top-level function, importable in the child.
    """

    def __init__(
        self,
        timeout_s: float,
        max_bytes: int,
        loader: Loader = load_document,
        memory_bytes: int | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if memory_bytes is not None and memory_bytes <= 0:
            raise ValueError("memory_bytes must be positive")
        self.timeout_s = timeout_s
        self.max_bytes = max_bytes
        self.memory_bytes = memory_bytes
        self._loader = loader
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self._closed = False

    def __enter__(self) -> IsolatedLoader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """The child's process id, or None when no child is running."""
        return self._process.pid if self._process is not None else None

    def _start(self) -> Connection:
        parent_conn, child_conn = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_serve,
            args=(child_conn, self._loader, self.max_bytes, self.memory_bytes),
            name="cove-loader",
            daemon=True,  # never outlives the parent, even if close() is not called
        )
        process.start()
        child_conn.close()  # so that the child's death reads as EOF here
        self._process, self._conn = process, parent_conn
        try:
            ready = parent_conn.poll(STARTUP_TIMEOUT_S) and parent_conn.recv()
        except (EOFError, OSError):
            ready = None
        if not ready or ready[0] != "ready":
            reason = _exit_reason(self._stop())
            raise LoadError(f"loader process did not start: {reason}")
        return parent_conn

    def _stop(self, graceful: bool = False) -> int | None:
        """End the child (politely if asked, else SIGKILL); return its exit code."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is None:
            return None
        if graceful and conn is not None:
            try:
                conn.send(None)
                process.join(timeout=2)
            except (EOFError, OSError):
                pass
        if process.is_alive():
            process.kill()
        process.join()
        if conn is not None:
            conn.close()
        exitcode = process.exitcode
        process.close()
        return exitcode

    def load(self, path: Path) -> Document:
        """Load one file in the child, waiting at most `timeout_s` for it."""
        with self._lock:
            if self._closed:
                raise RuntimeError("IsolatedLoader is closed")
            conn = self._conn
            if conn is None or self._process is None or not self._process.is_alive():
                self._stop()
                conn = self._start()
            pid = self._process.pid
            used = 0  # the most address space the child was seen to use on this file
            try:
                conn.send(str(path))
                finished, used = self._wait(conn, pid)
                reply = conn.recv() if finished else None
            except (EOFError, OSError):
                exitcode = self._stop()
                if self.memory_bytes is not None and used >= NEAR_CAP * self.memory_bytes:
                    raise LoadError(TOO_LARGE_UNPACKED) from None  # died as memory ran out
                raise LoadError(_exit_reason(exitcode)) from None
            except BaseException:
                # Interrupted mid-file: the child may still answer later, and that answer
                # must not be taken for the next file's. A new child starts clean.
                self._stop()
                raise
            if reply is None:
                self._stop()
                raise LoadError(f"timed out after {self.timeout_s:g} s")
            if self.memory_bytes is not None and pid is not None:
                peak = _address_space(pid, peak=True) or 0
                if peak >= NEAR_CAP * self.memory_bytes:
                    # The peak only grows: a fresh child measures the next file alone.
                    self._stop(graceful=True)
        status, payload = reply
        if status == "ok":
            return payload
        if status == "skip":
            raise SkipFile(payload)
        raise LoadError(payload)

    def _wait(self, conn: Connection, pid: int | None) -> tuple[bool, int]:
        """Wait up to `timeout_s` for the child's answer (or its death); return whether
        it came, and the most address space the child was seen to use meanwhile."""
        if self.memory_bytes is None or pid is None:
            return conn.poll(self.timeout_s), 0
        deadline = time.monotonic() + self.timeout_s
        used = 0
        while True:
            if conn.poll(max(0.0, min(SAMPLE_S, deadline - time.monotonic()))):
                return True, used
            used = max(used, _address_space(pid) or 0)
            if time.monotonic() >= deadline:
                return False, used

    def close(self) -> None:
        """Stop the child process; later calls to `load` raise RuntimeError."""
        with self._lock:
            self._closed = True
            self._stop(graceful=True)
