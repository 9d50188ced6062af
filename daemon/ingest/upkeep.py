"""Keeping Chroma in step with cove.db: the repair after a crash or a full disk, and the rebuild.

Chroma is a derived index: every vector comes back from the embedding cache, or by embedding
the chunk text cove.db keeps. Both run on the indexer's worker thread (Chroma's only writer)
with the worker's SQLite connection.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sqlite_utils

from cove.daemon.ingest.files import file_hash
from cove.daemon.ingest.pipeline import FileIngester, forget_files
from cove.index import manifest
from cove.index.chunking import Chunk, embed_text
from cove.index.embedcache import CachedEmbedding, cached_vectors
from cove.index.ignore import IgnoreRules
from cove.index.pathnames import escape_path
from cove.index.vectors import VectorStore

log = logging.getLogger("cove.upkeep")

# progress(done, total): chunks whose vectors are back in Chroma, of those to restore.
Progress = Callable[[int, int], None]


class RebuildError(RuntimeError):
    """The rebuilt vector store does not match cove.db."""


@dataclass
class Repair:
    """What a repair found and did."""

    stale: int = 0  # chunk rows of dead generations, and their vectors, deleted
    orphans: int = 0  # vectors of no live chunk, deleted
    missing: int = 0  # live chunks without a vector, restored
    embedded: int = 0  # of those, embedded again (not in the cache)
    rebuilt: bool = False  # Chroma was damaged: the collection was built afresh
    unfinished: list[str] = field(default_factory=list)  # files left `indexing`: ingest again


def repair(
    db: sqlite_utils.Database,
    store: VectorStore,
    ingester: FileIngester,
    lack_of_space: Callable[[BaseException], bool],
    progress: Progress | None = None,
) -> Repair:
    """Make SQLite and Chroma agree after a crash or a full disk: drop chunk rows of dead
    generations and vectors of no live chunk, restore missing vectors from the cache, and
    list the files whose ingest never finished. After a change of embedding model every
    vector is missing from the new collection: all are embedded again, reported to `progress`.

    When Chroma cannot be read or searched (damaged files), the collection is rebuilt from
    cove.db instead; a failure for want of space (`lack_of_space`) or of SQLite is raised.
    """
    stale = manifest.superseded_chunk_ids(db)
    done = Repair(stale=len(stale), unfinished=manifest.unfinished_paths(db))
    try:
        store.verify()
        if stale:
            store.delete(stale)
            manifest.delete_chunks(db, stale)
        live = manifest.live_chunk_ids(db)
        present = store.ids()
        orphans = sorted(present - live)
        if orphans:
            store.delete(orphans)
        missing = sorted(live - present)
        done.orphans, done.missing = len(orphans), len(missing)
        done.embedded = restore_vectors(db, store, ingester, missing, progress)
    except Exception as exc:
        if isinstance(exc, sqlite3.Error) or lack_of_space(exc):
            raise
        log.exception("the vector store is damaged; rebuilding it from cove.db")
        if stale:
            manifest.delete_chunks(db, stale)
        done.embedded = rebuild(db, store, ingester, progress)["embedded"]
        done.rebuilt = True
    if stale or done.orphans or done.missing or done.unfinished:
        log.info(
            "repaired index: %d stale chunks, %d orphan vectors, %d missing vectors, "
            "%d unfinished files",
            done.stale,
            done.orphans,
            done.missing,
            len(done.unfinished),
        )
    return done


def rebuild(
    db: sqlite_utils.Database,
    store: VectorStore,
    ingester: FileIngester,
    progress: Progress | None = None,
) -> dict:
    """A fresh collection from cove.db's live chunks, embedding only what the cache lacks:
    {"vectors", "embedded"}. Raises (RebuildError or Chroma's error) when it cannot."""
    live = sorted(manifest.live_chunk_ids(db))
    store.reset()
    embedded = restore_vectors(db, store, ingester, live, progress)
    count = store.count()
    if count != len(live):
        raise RebuildError(f"the rebuilt vector store holds {count} vectors for {len(live)} chunks")
    store.verify()
    log.info("rebuilt the vector store: %d vectors, %d embedded again", count, embedded)
    return {"vectors": count, "embedded": embedded}


def restore_vectors(
    db: sqlite_utils.Database,
    store: VectorStore,
    ingester: FileIngester,
    ids: list[int],
    progress: Progress | None = None,
) -> int:
    """Put the chunks' vectors into Chroma from the cache; return how many were not cached
    and had to be embedded (all of them after a change of embedding model). `progress` hears
    after each embedding batch and each 1,000 chunks stored."""
    embedded = 0
    heading = ingester.settings.heading_in_embedding
    report = progress or (lambda done, total: None)
    report(0, len(ids))
    for start in range(0, len(ids), 1000):
        batch = ids[start : start + 1000]
        rows = manifest.chunk_hashes(db, batch)
        vectors = cached_vectors(db, ingester.model, [r["embed_hash"] for r in rows])
        lacking = [r for r in rows if r["embed_hash"] not in vectors]
        if lacking:  # cache lost (or a new model): embed the chunk text again
            texts = [
                embed_text(
                    Chunk(r["text"], tuple(json.loads(r["heading"])), None, None, None, 0),
                    heading,
                )
                for r in lacking
            ]
            restored = start + len(rows) - len(lacking)
            fresh, count = _embed_again(
                db, ingester, texts, lambda n, done=restored: report(done + n, len(ids))
            )
            embedded += count
            for r, v in zip(lacking, fresh, strict=True):
                vectors[r["embed_hash"]] = v
        if rows:
            store.add(
                [r["id"] for r in rows],
                np.stack([vectors[r["embed_hash"]] for r in rows]),
                [r["file_id"] for r in rows],
            )
        report(start + len(batch), len(ids))
    return embedded


def _embed_again(
    db: sqlite_utils.Database,
    ingester: FileIngester,
    texts: list[str],
    on_batch: Callable[[int], None],
) -> tuple[np.ndarray, int]:
    """Vectors for `texts` (cached as each of the ingester's embedding batches is done) and
    how many were embedded; `on_batch(n)` hears how many texts are embedded so far."""
    done = 0

    def embed(batch: list[str]) -> list[list[float]]:
        nonlocal done
        fresh = ingester.embedder.embed(batch)
        done += len(batch)
        on_batch(done)
        return fresh

    batcher = CachedEmbedding(db, ingester.model, embed, ingester.settings.batch_size)
    batcher.add(texts)
    batcher.flush()
    return batcher.vectors(texts), batcher.embedded


# --- reconcile: a folder against the manifest, after the daemon was down ---------------


def reconcile(
    db: sqlite_utils.Database, store: VectorStore, folder_id: int, rules: IgnoreRules
) -> Iterable[str]:
    """Compare a folder with the manifest by size and mtime; forget vanished files,
    adopt renames made while the daemon was down, and return paths to look at."""
    known = manifest.files_in_folder(db, folder_id)
    changed: list[tuple[str, str, int]] = []  # (path, its key in the manifest, size)
    seen: set[str] = set()
    for entry in rules.walk():
        key = escape_path(entry.path)
        seen.add(key)
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        row = known.get(key)
        if row is None or (row["size"], row["mtime"]) != (info.st_size, info.st_mtime):
            changed.append((entry.path, key, info.st_size))
    gone = [p for p in known if p not in seen]
    by_size: dict[int, list[dict]] = {}
    for p in gone:
        if known[p]["status"] == manifest.INDEXED:
            by_size.setdefault(known[p]["size"], []).append(known[p])
    for path, key, size in changed:
        if key not in known and by_size.get(size):
            _adopt_by_hash(db, folder_id, path, by_size[size], gone)
    forget_files(db, store, gone)
    return [path for path, _, _ in changed]


def _adopt_by_hash(db, folder_id, path, candidates, gone) -> None:
    try:
        digest = file_hash(Path(path))
    except OSError:
        return
    for row in candidates:
        if row["hash"] == digest and row["path"] in gone:
            manifest.rename_file(db, row["id"], escape_path(path), folder_id)
            gone.remove(row["path"])
            candidates.remove(row)
            return
