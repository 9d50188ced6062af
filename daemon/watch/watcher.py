"""Watch the folders with watchdog and turn file-system events into indexer calls.

The watcher only reports; the indexer decides. Events under ignored paths are dropped here
to keep churn (`.git`, `node_modules`) out of the queue. If the observer dies (an OS error,
an overflowed event queue), it is restarted and a reconcile scan catches what was missed.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer

from cove.daemon.ingest.queue import Indexer
from cove.index.ignore import IGNORE_FILES

log = logging.getLogger("cove.watcher")

HEALTH_CHECK_S = 2.0
CHANGES = frozenset({"created", "modified", "deleted", "moved", "closed"})


class _Handler(FileSystemEventHandler):
    def __init__(self, indexer: Indexer) -> None:
        self.indexer = indexer

    def _relevant(self, path: str, is_dir: bool = False) -> bool:
        found = self.indexer.folder_for(Path(path))
        return found is not None and not found[1].is_ignored(Path(path), is_dir=is_dir)

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self._dispatch(event)
        except Exception:  # noqa: BLE001 - a bad event must not kill the observer thread
            log.exception("could not handle %s", event)

    def _dispatch(self, event: FileSystemEvent) -> None:
        if event.event_type not in CHANGES:
            return  # opened / closed_no_write: reads (ours included) change nothing
        src = _text(event.src_path)
        if Path(src).name in IGNORE_FILES:
            found = self.indexer.folder_for(Path(src))
            if found:
                found[1].forget(Path(src).parent)
            self.indexer.rescan()  # the ignore rules changed: files may come or go
            return
        kind = event.event_type
        if kind == "moved":
            dest = _text(event.dest_path)
            if self.indexer.folder_for(Path(dest)) is None:
                self.indexer.file_deleted(src)  # moved out of every watched folder
            else:
                self.indexer.file_moved(src, dest)
        elif kind == "deleted" or isinstance(event, DirDeletedEvent):
            self.indexer.file_deleted(src)
        elif isinstance(event, DirCreatedEvent):
            if self._relevant(src, is_dir=True):
                self.indexer.dir_created(src)  # files may land before its watch exists
        elif kind in ("created", "modified", "closed") and not event.is_directory:
            if self._relevant(src):
                self.indexer.file_changed(src)
        elif isinstance(event, DirMovedEvent):  # pragma: no cover - handled as "moved"
            pass


class FolderWatcher:
    """One watchdog observer over every watched folder; re-synced when folders change."""

    def __init__(self, indexer: Indexer) -> None:
        self.indexer = indexer
        self._handler = _Handler(indexer)
        self._observer = Observer()
        self._watched: dict[str, object] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._monitor = threading.Thread(
            target=self._watch_health, name="cove-watch-health", daemon=True
        )
        self.restarts = 0

    def start(self) -> None:
        self._observer.start()
        self.sync()
        self._monitor.start()

    def stop(self) -> None:
        self._stop.set()
        self._observer.stop()
        self._observer.join(timeout=10)

    def sync(self) -> None:
        """Watch exactly the indexer's folders."""
        with self._lock:
            wanted = {str(root) for root, _ in self.indexer.folders().values()}
            for path in list(self._watched):
                if path not in wanted:
                    self._observer.unschedule(self._watched.pop(path))
            for path in wanted - set(self._watched):
                if not Path(path).is_dir():
                    log.warning(
                        "cannot watch %s: not a folder (it is rescanned periodically)", path
                    )
                    continue
                try:
                    self._watched[path] = self._observer.schedule(
                        self._handler, path, recursive=True
                    )
                except OSError as exc:
                    log.error("cannot watch %s: %s; relying on periodic rescans", path, exc)

    def _watch_health(self) -> None:
        while not self._stop.wait(HEALTH_CHECK_S):
            if self._observer.is_alive():
                continue
            log.error("the folder watcher stopped; restarting it and rescanning")
            with self._lock:
                self._observer = Observer()
                self._watched.clear()
            self.restarts += 1
            self._observer.start()
            self.sync()
            self.indexer.rescan()


def _text(path: str | bytes) -> str:
    return path.decode(errors="surrogateescape") if isinstance(path, bytes) else path
