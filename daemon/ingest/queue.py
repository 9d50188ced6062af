"""The indexing service: one worker thread that keeps the index in step with the folders.

Work arrives as tasks (a file to look at, a move, a delete, a reconcile scan); file changes
from the watcher wait in a debounce buffer first, so a burst of saves is one task. The
worker owns its own SQLite connection and is Chroma's only writer. It yields to chat: while
the model is generating, no embedding batch starts.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path

from cove.daemon.config import Config
from cove.daemon.ingest import upkeep
from cove.daemon.ingest.counters import Counters
from cove.daemon.ingest.diskspace import DiskSpace, NoSpaceError
from cove.daemon.ingest.pipeline import FileIngester, forget_files
from cove.daemon.ingest.tasks import Task, forget_path, move_path, scan_dir
from cove.daemon.store.db import ThreadConnections, connect
from cove.daemon.watch.folders import WatchedFolders
from cove.index import manifest
from cove.index.ignore import IgnoreRules
from cove.index.pathnames import escape_path, unescape_path
from cove.index.vectors import VectorStore

log = logging.getLogger("cove.indexer")

# Queued files ingested together, so their chunks share embedding batches.
FILES_PER_BATCH = 32


class Indexer:
    """Owns the queue, the debounce buffer and the worker; the API and watcher call in."""

    def __init__(
        self,
        config: Config,
        store: VectorStore,
        ingester: FileIngester,
        chat_busy: Callable[[], bool],
    ) -> None:
        self.config = config
        self.store = store
        self.ingester = ingester
        self.chat_busy = chat_busy
        self.counters = Counters()
        self.paused = False
        self.space = DiskSpace(config.paths.home, config.index.min_free_mb)
        self._db = connect(config.paths.db)
        self._tasks: deque[Task] = deque()
        self._queued_files: set[str] = set()
        self._debounce: dict[str, float] = {}
        self._folders = WatchedFolders(config.paths.home)
        self._wake = threading.Condition()
        self._stopping = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="cove-indexer", daemon=True)
        self._next_reconcile = 0.0
        self._connections = ThreadConnections(config.paths.db)

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """Repair what an interrupted run left, then reconcile every folder."""
        self.reload_folders()
        self.enqueue(Task("repair"))
        self.enqueue(Task("reconcile"))
        self._thread.start()

    def stop(self) -> None:
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout=30)
        if not self._thread.is_alive():
            # Searches are over: superseded generations can go now rather than at next start.
            try:
                self.ingester.garbage.collect(self._db, self.store, force=True)
            except Exception:  # noqa: BLE001 - e.g. a full disk: the start-up repair does it
                log.warning("superseded chunks are left for the next start", exc_info=True)
        self.ingester.close()
        self._db.close()

    # --- folders --------------------------------------------------------------------

    def reload_folders(self) -> None:
        self._folders.reload(self._reader())

    def folders(self) -> dict[int, tuple[Path, IgnoreRules]]:
        return dict(self._folders.rules)

    def add_folder(self, path: Path, ignore: list[str]) -> dict:
        """Watch a folder; indexing goes on in the background. Raises ValueError why not."""
        folder = self._folders.add(self._reader(), path, ignore)
        self.enqueue(Task("reconcile"))
        return folder

    def remove_folder(self, path: Path) -> dict:
        """Stop watching a folder and delete its chunks. Raises LookupError if unknown."""
        folder = self._folders.remove(self._reader(), path)
        self.enqueue(Task("remove_folder", folder_id=folder["id"]))
        return folder

    def notify_folders_changed(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever the set of watched folders changes (the watcher's
        `sync`, wired by the lifecycle owner)."""
        self._folders.on_change(listener)

    def dir_created(self, path: str) -> None:
        self.enqueue(Task("scan_dir", path=path))

    def folder_for(self, path: Path) -> tuple[int, IgnoreRules] | None:
        """The watched folder containing `path`."""
        return self._folders.folder_for(path)

    # --- events in ------------------------------------------------------------------

    def enqueue(self, task: Task) -> None:
        with self._wake:
            if task.kind == "file":
                if task.path in self._queued_files:
                    return
                self._queued_files.add(task.path)
            self._tasks.append(task)
            self._wake.notify_all()

    def file_changed(self, path: str) -> None:
        """From the watcher: wait for the burst of saves to settle, then ingest once."""
        with self._wake:
            self._debounce[path] = time.monotonic() + self.config.index.debounce_ms / 1000
            self._wake.notify_all()

    def file_deleted(self, path: str) -> None:
        with self._wake:
            self._debounce.pop(path, None)
        self.enqueue(Task("delete", path=path))

    def file_moved(self, src: str, dest: str) -> None:
        with self._wake:
            self._debounce.pop(src, None)
        self.enqueue(Task("move", path=src, dest=dest))

    def rescan(self) -> None:
        """Repair what failed writes left (a full disk), then compare every folder."""
        self.enqueue(Task("repair"))
        self.enqueue(Task("reconcile"))

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        """Resume, and after a full disk try again now (it pauses again if still full)."""
        with self._wake:
            self.paused = False
            self.space.retry_now()
            self._wake.notify_all()

    # --- status ---------------------------------------------------------------------

    def state(self) -> str:
        with self._wake:
            pending = bool(self._tasks or self._debounce or self._busy)
            scanning = self.counters.scanning or any(
                t.kind in ("reconcile", "repair") for t in self._tasks
            )
        if scanning:
            return "scanning"
        return "indexing" if pending else "idle"

    def status(self) -> dict:
        counts = manifest.counts(self._reader())
        with self._wake:
            queued = len(self._tasks) + len(self._debounce)
        return {
            "state": self.state(),
            "files": counts["files"],
            "chunks": counts["chunks"],
            "queued": queued,
            "in_progress": int(self._busy),
            "failed": counts["failed"],
            "current_file": self.counters.current_file,
            "embedded_total": self.counters.embedded_total,
            "ingests_total": self.counters.ingests_total,
            "skipped": counts["skipped"],
            "paused": self.paused or self.space.reason is not None,
            "paused_reason": self.space.reason or ("paused by the user" if self.paused else None),
            "chat_waits": self.counters.chat_waits,
            "embed_batches_total": self.counters.embed_batches_total,
            "collection": self.store.name,
            "restore": self.counters.restore_status(),
        }

    def rebuild(self) -> Future:
        """Rebuild the vector store from cove.db ahead of queued work (even when paused by
        the user): the future gives {"vectors", "embedded"}, or raises why it failed."""
        done: Future = Future()
        with self._wake:
            if self.space.reason is not None:
                done.set_exception(NoSpaceError(self.space.reason))
            else:
                self._tasks.appendleft(Task("rebuild", done=done))
                self._wake.notify_all()
        return done

    def reader(self):
        return self._reader()

    def _reader(self):
        """This thread's own connection (SQLite connections are not shared across threads)."""
        return self._connections.get()

    # --- the worker -----------------------------------------------------------------

    def _next_task(self) -> Task | None:
        """Block until a task is due (or we stop); debounced paths become file tasks."""
        with self._wake:
            while not self._stopping:
                now = time.monotonic()
                for path, due in list(self._debounce.items()):
                    if due <= now:
                        del self._debounce[path]
                        if path not in self._queued_files:
                            self._queued_files.add(path)
                            self._tasks.append(Task("file", path=path))
                if now >= self._next_reconcile and self._next_reconcile:
                    self._tasks.append(Task("reconcile"))
                    self._next_reconcile = 0.0
                urgent = bool(self._tasks) and self._tasks[0].kind == "rebuild"
                if self._tasks and (urgent or not self.paused) and self._room():
                    task = self._tasks.popleft()
                    if task.kind == "file":
                        task = self._take_files(task)
                    self._busy = True
                    return task
                garbage = self.ingester.garbage.next_due()
                if garbage is not None and garbage <= now and self.space.reason is None:
                    return Task("gc")
                deadlines = [*self._debounce.values(), *([garbage] if garbage else [])]
                timeout = min((due - now for due in deadlines), default=1.0)
                self._wake.wait(timeout=max(0.01, min(timeout, 1.0)))
        return None

    def _take_files(self, first: Task) -> Task:
        """The file tasks at the head of the queue, as one batch (caller holds the lock)."""
        paths = [first.path]
        while self._tasks and self._tasks[0].kind == "file" and len(paths) < FILES_PER_BATCH:
            paths.append(self._tasks.popleft().path)
        self._queued_files.difference_update(paths)
        return Task("files", paths=paths)

    def _room(self) -> bool:
        """Whether the disk has room for the next task (the caller holds the lock). While
        it has not, a waiting rebuild fails at once rather than wait."""
        reason = self.space.check()
        if reason is None:
            return True
        for task in [t for t in self._tasks if t.kind == "rebuild"]:
            self._tasks.remove(task)
            if task.done is not None:
                task.done.set_exception(NoSpaceError(reason))
        return False

    def _run(self) -> None:
        while (task := self._next_task()) is not None:
            try:
                result = self._handle(task)
            except Exception as exc:  # noqa: BLE001 - one bad task must never stop indexing
                self._failed(task, exc)
            else:
                if task.done is not None:
                    task.done.set_result(result)
            finally:
                self.counters.current_file = None
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()

    def _failed(self, task: Task, exc: Exception) -> None:
        """A task raised. For want of space indexing waits, then repairs what the task left
        half-written and rescans (which finds its files again); else it is logged."""
        if self._db.conn.in_transaction:  # a COMMIT the disk refused leaves it open
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
        reason = self.space.failed(exc)
        if task.done is not None:
            task.done.set_exception(exc if reason is None else NoSpaceError(reason))
        if reason is None:
            log.error("indexing task %s failed", task.kind, exc_info=exc)
            return
        with self._wake:
            if not (self._tasks and self._tasks[0].kind == "repair"):
                self._tasks.extendleft([Task("reconcile"), Task("repair")])

    def _handle(self, task: Task) -> dict | None:
        if task.kind == "files":
            self._ingest([Path(p) for p in task.paths])
            self.space.succeeded()
        elif task.kind == "delete":
            forget_path(self._db, self.store, task.path)
        elif task.kind == "move":
            self._enqueue_all(
                move_path(self._db, self.store, task.path, task.dest, self.folder_for)
            )
        elif task.kind == "reconcile":
            self._reconcile()
        elif task.kind == "remove_folder":
            self.store.delete(manifest.remove_folder(self._db, task.folder_id))
            self.reload_folders()
        elif task.kind == "scan_dir":
            self._enqueue_all(scan_dir(task.path, self.folder_for))
        elif task.kind == "repair":
            try:
                repaired = upkeep.repair(
                    self._db, self.store, self.ingester, self.space.explains, self._restoring
                )
            finally:
                self.counters.restore = None
            self.counters.embedded_total += repaired.embedded
            for key in repaired.unfinished:
                self.enqueue(Task("file", path=unescape_path(key)))
            # Another model's collection was kept until this one was complete; now it goes.
            for name in self.store.drop_others():
                log.info("dropped the vector collection of a previous model: %s", name)
        elif task.kind == "gc":
            self.ingester.garbage.collect(self._db, self.store)
        elif task.kind == "rebuild":
            try:
                rebuilt = upkeep.rebuild(self._db, self.store, self.ingester, self._restoring)
            finally:
                self.counters.restore = None
            self.counters.embedded_total += rebuilt["embedded"]
            return rebuilt
        return None

    def _ingest(self, paths: list[Path]) -> None:
        wanted = []
        for path in paths:
            found = self.folder_for(path)
            if found is None or found[1].is_ignored(path):
                forget_files(self._db, self.store, [escape_path(path)])
            else:
                wanted.append((found[0], path))

        def on_file(path: str) -> None:
            self.counters.current_file = path

        outcome = self.ingester.ingest_many(
            self._db, self.store, wanted, self._yield_to_chat, on_file, hold=self._hold
        )
        self.counters.embedded_total += outcome.embedded
        self.counters.ingests_total += outcome.ingested
        for path in outcome.reread:  # changed while read: again once it has settled
            self.file_changed(path)

    def _enqueue_all(self, tasks: list[Task]) -> None:
        for task in tasks:
            self.enqueue(task)

    def _reconcile(self) -> None:
        self.counters.scanning = True
        try:
            self.reload_folders()
            for folder_id, (root, rules) in self.folders().items():
                if not root.is_dir():
                    log.warning("watched folder %s is missing; its index is kept", root)
                    continue
                for path in upkeep.reconcile(self._db, self.store, folder_id, rules):
                    self.enqueue(Task("file", path=path))
        finally:
            self.counters.scanning = False
            self.counters.reconciles_total += 1
            self.counters.last_reconcile_ended = time.time()
            self._next_reconcile = time.monotonic() + self.config.index.rescan_interval_s

    def _restoring(self, done: int, total: int) -> None:
        """Progress of a repair or rebuild, after each embedding batch: chat goes first (a
        change of embedding model re-embeds every chunk, which may take a while)."""
        self.counters.restore = (done, total) if total else None
        while self.chat_busy() and not self._stopping:
            time.sleep(0.05)

    def _yield_to_chat(self) -> None:
        """Called before each embedding batch: chat (and a pause) go first."""
        self._hold()
        self.counters.embed_batches_total += 1

    def _hold(self) -> None:
        """Block while chat is generating or indexing is paused: before each embedding
        batch, and before each file is read (on the ingester's reading thread)."""
        if self.chat_busy():
            self.counters.chat_waits += 1
        while (self.chat_busy() or self.paused) and not self._stopping:
            time.sleep(0.05)
