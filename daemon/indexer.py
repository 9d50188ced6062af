"""The indexing service: one worker thread that keeps the index in step with the folders.

Work arrives as tasks (a file to look at, a move, a delete, a reconcile scan); file changes
from the watcher wait in a debounce buffer first, so a burst of saves is one task. The
worker owns its own SQLite connection and is Chroma's only writer. It yields to chat: while
the model is generating, no embedding batch starts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cove.daemon.config import Config
from cove.daemon.ingest import FileIngester
from cove.daemon.store.db import connect
from cove.index import manifest
from cove.index.ignore import IgnoreRules
from cove.index.vectors import VectorStore

log = logging.getLogger("cove.indexer")

# Queued files ingested together, so their chunks share embedding batches.
FILES_PER_BATCH = 32


@dataclass
class Task:
    kind: str  # file(s) | delete | move | reconcile | scan_dir | remove_folder | rebuild | gc
    path: str = ""
    paths: list[str] = field(default_factory=list)
    dest: str = ""
    folder_id: int = 0


@dataclass
class Counters:
    embedded_total: int = 0
    ingests_total: int = 0
    chat_waits: int = 0  # times indexing held back (to read or embed) for chat
    embed_batches_total: int = 0
    reconciles_total: int = 0
    last_reconcile_ended: float = 0.0
    scanning: bool = False
    current_file: str | None = None
    errors: list[str] = field(default_factory=list)


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
        self._db = connect(config.paths.db)
        self._tasks: deque[Task] = deque()
        self._queued_files: set[str] = set()
        self._debounce: dict[str, float] = {}
        self._rules: dict[int, tuple[Path, IgnoreRules]] = {}
        self._wake = threading.Condition()
        self._stopping = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="cove-indexer", daemon=True)
        self._next_reconcile = 0.0
        self._rules: dict[int, tuple[Path, IgnoreRules]] = {}
        self._local = threading.local()

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
            self.ingester.collect_garbage(self._db, self.store, force=True)
        self.ingester.close()
        self._db.close()

    # --- folders --------------------------------------------------------------------

    def reload_folders(self) -> None:
        rules = {}
        for folder in manifest.list_folders(self._reader()):
            root = Path(folder["path"])
            rules[folder["id"]] = (
                root,
                IgnoreRules(root, folder["ignore"], exclude=[self.config.paths.home]),
            )
        self._rules = rules
        self.on_folders_changed()

    def folders(self) -> dict[int, tuple[Path, IgnoreRules]]:
        return dict(self._rules)

    def add_folder(self, path: Path, ignore: list[str]) -> dict:
        """Watch a folder; indexing goes on in the background. Raises ValueError why not."""
        root = path.expanduser().resolve()
        if not root.is_dir():
            raise ValueError(f"not a folder: {path}")
        home = self.config.paths.home.resolve()
        if root == home or home in root.parents:
            raise ValueError("Cove's own data folder (COVE_HOME) cannot be watched")
        for other, _ in self._rules.values():
            if other != root and (other in root.parents or root in other.parents):
                relation = "inside" if other in root.parents else "around"
                raise ValueError(
                    f"{root} is {relation} the watched folder {other}; remove that one first"
                )
        folder = manifest.add_folder(self._reader(), str(root), ignore)
        self.reload_folders()
        self.enqueue(Task("reconcile"))
        return folder

    def remove_folder(self, path: Path) -> dict:
        """Stop watching a folder and delete its chunks. Raises LookupError if unknown."""
        root = str(path.expanduser().resolve())
        folder = manifest.get_folder(self._reader(), root) or manifest.get_folder(
            self._reader(), str(path)
        )
        if folder is None:
            raise LookupError(f"not a watched folder: {path}")
        self._rules.pop(folder["id"], None)
        self.on_folders_changed()
        self.enqueue(Task("remove_folder", folder_id=folder["id"]))
        return folder

    def on_folders_changed(self) -> None:
        """Replaced by the watcher's `sync` once it runs."""

    def dir_created(self, path: str) -> None:
        self.enqueue(Task("scan_dir", path=path))

    def folder_for(self, path: Path) -> tuple[int, IgnoreRules] | None:
        """The watched folder containing `path` (folders never nest: add_folder refuses)."""
        for folder_id, (root, rules) in self._rules.items():
            if path == root or root in path.parents:
                return folder_id, rules
        return None

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
        self.enqueue(Task("reconcile"))

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        with self._wake:
            self.paused = False
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
            "paused": self.paused,
            "chat_waits": self.counters.chat_waits,
            "embed_batches_total": self.counters.embed_batches_total,
            "collection": self.store.name,
        }

    def rebuild(self) -> None:
        self.enqueue(Task("rebuild"))

    def reader(self):
        return self._reader()

    def _reader(self):
        """This thread's own connection (SQLite connections are not shared across threads)."""
        if getattr(self._local, "db", None) is None:
            self._local.db = connect(self.config.paths.db)
        return self._local.db

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
                if self._tasks and not self.paused:
                    task = self._tasks.popleft()
                    if task.kind == "file":
                        task = self._take_files(task)
                    self._busy = True
                    return task
                garbage = self.ingester.has_garbage()
                if garbage is not None and garbage <= now:
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

    def _run(self) -> None:
        while (task := self._next_task()) is not None:
            try:
                self._handle(task)
            except Exception:  # noqa: BLE001 - one bad task must never stop indexing
                log.exception("indexing task %s failed", task)
            finally:
                self.counters.current_file = None
                with self._wake:
                    self._busy = False
                    self._wake.notify_all()

    def _handle(self, task: Task) -> None:
        if task.kind == "files":
            self._ingest([Path(p) for p in task.paths])
        elif task.kind == "delete":
            self._forget(manifest.paths_under(self._db, task.path) + [task.path])
        elif task.kind == "move":
            self._move(task.path, task.dest)
        elif task.kind == "reconcile":
            self._reconcile()
        elif task.kind == "remove_folder":
            self.store.delete(manifest.remove_folder(self._db, task.folder_id))
            self.reload_folders()
        elif task.kind == "scan_dir":
            found = self.folder_for(Path(task.path))
            if found:
                for entry in found[1].walk(Path(task.path)):
                    self.enqueue(Task("file", path=entry.path))
        elif task.kind == "repair":
            self.counters.embedded_total += self.ingester.repair(self._db, self.store)
            # Another model's collection was kept until this one was complete; now it goes.
            for name in self.store.drop_others():
                log.info("dropped the vector collection of a previous model: %s", name)
        elif task.kind == "gc":
            self.ingester.collect_garbage(self._db, self.store)
        elif task.kind == "rebuild":
            self.counters.embedded_total += self.ingester.rebuild_vectors(self._db, self.store)

    def _ingest(self, paths: list[Path]) -> None:
        wanted = []
        for path in paths:
            found = self.folder_for(path)
            if found is None or found[1].is_ignored(path):
                self._forget([str(path)])
            else:
                wanted.append((found[0], path))

        def on_file(path: str) -> None:
            self.counters.current_file = path

        outcome = self.ingester.ingest_many(
            self._db, self.store, wanted, self._yield_to_chat, on_file, hold=self._hold
        )
        self.counters.embedded_total += outcome.embedded
        self.counters.ingests_total += outcome.ingested

    def _forget(self, paths: list[str]) -> None:
        ids = manifest.delete_files(self._db, paths)
        if ids:
            self.store.delete(ids)

    def _move(self, src: str, dest: str) -> None:
        """A rename keeps its chunks and vectors; only the manifest path changes."""
        moved = manifest.paths_under(self._db, src)
        if not moved and manifest.get_file(self._db, src) is None:
            self.enqueue(Task("file", path=dest))  # an unknown source: a new file or folder
            if Path(dest).is_dir():
                self.enqueue(Task("reconcile"))
            return
        pairs = [(src, dest)] + [(p, dest + p[len(src) :]) for p in moved]
        for old, new in pairs:
            row = manifest.get_file(self._db, old)
            target = self.folder_for(Path(new))
            if row is None:
                continue
            if target is None or target[1].is_ignored(Path(new)):
                self._forget([old])
                continue
            manifest.rename_file(self._db, row["id"], new, target[0])
            self.enqueue(Task("file", path=new))  # cheap: same size and mtime, nothing to do

    def _reconcile(self) -> None:
        self.counters.scanning = True
        try:
            self.reload_folders()
            for folder_id, (root, rules) in list(self._rules.items()):
                if not root.is_dir():
                    log.warning("watched folder %s is missing; its index is kept", root)
                    continue
                for path in self.ingester.reconcile(self._db, self.store, folder_id, rules):
                    self.enqueue(Task("file", path=path))
        finally:
            self.counters.scanning = False
            self.counters.reconciles_total += 1
            self.counters.last_reconcile_ended = time.time()
            self._next_reconcile = time.monotonic() + self.config.index.rescan_interval_s

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
