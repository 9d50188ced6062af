"""What happens to one file, and the reconcile scan (the repair is in upkeep.py).

Runs on the indexer's worker thread with the worker's own SQLite connection.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from cove.daemon.ingest.files import changed_since, file_hash, not_the_files_fault, read_error
from cove.daemon.ingest.garbage import Garbage
from cove.index import manifest
from cove.index.chunking import Chunk, chunk_document, embed_text
from cove.index.document import LoadError, SkipFile
from cove.index.embedcache import CachedEmbedding, text_hash
from cove.index.embedder import Embedder
from cove.index.loaders import SUPPORTED_SUFFIXES
from cove.index.loaders.isolated import IsolatedLoader
from cove.index.pathnames import escape_path, printable, unescape_path
from cove.index.vectors import VectorStore

log = logging.getLogger("cove.ingest")

# A file that changes while it is read is read again once it settles; after this many
# tries in a row it is failed (its next change brings it back).
MAX_REREADS = 3


def forget_files(db: sqlite_utils.Database, store: VectorStore, paths: list[str]) -> None:
    """Drop files (manifest keys) from the index: their rows, chunks and vectors."""
    ids = manifest.delete_files(db, paths)
    if ids:
        store.delete(ids)


@dataclass
class Outcome:
    embedded: int = 0
    ingested: int = 0  # files whose chunks were (re)written
    reread: list[str] = field(default_factory=list)  # changed while read: look again


@dataclass
class Candidate:
    """A file whose content is new to the index: it is to be loaded, chunked and embedded."""

    folder_id: int
    key: str
    row: dict | None
    digest: str
    info: os.stat_result


@dataclass
class Prepared:
    """A candidate loaded and chunked, waiting for its vectors."""

    candidate: Candidate
    file_format: str
    chunks: list[Chunk]
    texts: list[str]


@dataclass(frozen=True)
class IngestSettings:
    chunk_tokens: int
    overlap: float
    heading_in_embedding: bool
    max_bytes: int
    batch_size: int


class FileIngester:
    """Load, chunk, embed (through the cache) and store files, a batch at a time."""

    def __init__(self, embedder: Embedder, loader: IsolatedLoader, settings: IngestSettings):
        self.embedder = embedder
        self.loader = loader
        self.settings = settings
        self.model = embedder.name
        self.garbage = Garbage()  # older generations of files indexed again
        self._rereads: dict[str, int] = {}  # key -> times in a row it changed while read
        # Files are loaded and chunked here, one at a time, ahead of the worker: the next
        # file is read while the encoder (which releases the GIL) embeds the ones before.
        self._reading = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cove-reader")

    def close(self) -> None:
        self._reading.shutdown(wait=True, cancel_futures=True)
        self.loader.close()

    # --- files ----------------------------------------------------------------------

    def ingest(
        self,
        db: sqlite_utils.Database,
        store: VectorStore,
        folder_id: int,
        path: Path,
        yield_to_chat: Callable[[], None],
    ) -> Outcome:
        """Bring the index in line with `path` as it is on disk now."""
        return self.ingest_many(db, store, [(folder_id, path)], yield_to_chat)

    def ingest_many(
        self,
        db: sqlite_utils.Database,
        store: VectorStore,
        files: Sequence[tuple[int, Path]],
        yield_to_chat: Callable[[], None],
        on_file: Callable[[str], None] = lambda path: None,
        hold: Callable[[], None] = lambda: None,
    ) -> Outcome:
        """Ingest several files with one embedding pass over all their new chunks.

        Small files give small batches, which the encoder runs far below its speed;
        pooling the chunks of a queue of files keeps its batches full. The encoder starts
        as soon as a batch is ready and the rest is read meanwhile, on the reading thread;
        `hold` blocks that thread while indexing must wait (for chat, or a pause), as
        `yield_to_chat` blocks the worker before each embedding batch.
        """
        candidates = []
        for folder_id, path in files:
            on_file(escape_path(path))
            try:
                candidate = self._check(db, store, folder_id, path)
            except Exception as exc:  # noqa: BLE001 - one bad entry must not stop the batch
                if not_the_files_fault(exc):
                    raise
                self._fail(db, store, folder_id, escape_path(path), exc)
                continue
            if candidate is not None:
                candidates.append(candidate)
        if not candidates:
            return Outcome()

        def embed(batch: list[str]) -> list[list[float]]:
            yield_to_chat()
            return self.embedder.embed(batch)

        vectors = CachedEmbedding(db, self.model, embed, self.settings.batch_size)
        ready: list[Prepared] = []
        reread: list[str] = []
        for prepared in self._read(db, store, candidates, hold, on_file, reread):
            vectors.add(prepared.texts)
            ready.append(prepared)
        vectors.flush()
        self._commit(db, store, ready, vectors)
        return Outcome(embedded=vectors.embedded, ingested=len(ready), reread=reread)

    def _check(
        self, db: sqlite_utils.Database, store: VectorStore, folder_id: int, path: Path
    ) -> Candidate | None:
        """Whether `path` must be loaded; None when it needs no new chunks (unchanged,
        renamed, gone, skipped or failed: those are settled here)."""
        key = escape_path(path)
        try:
            info = os.lstat(path)
        except FileNotFoundError:
            forget_files(db, store, [key])
            return None
        if stat.S_ISLNK(info.st_mode):
            self._record_link(db, store, folder_id, path, info)
            return None
        if stat.S_ISDIR(info.st_mode):
            return None
        row = manifest.get_file(db, key)
        if (
            row
            and (row["size"], row["mtime"]) == (info.st_size, info.st_mtime)
            and row["status"] in (manifest.INDEXED, manifest.SKIPPED, manifest.FAILED)
        ):
            return None
        record = dict(size=info.st_size, mtime=info.st_mtime)
        if not stat.S_ISREG(info.st_mode):
            # A FIFO, socket or device: never opened (opening a FIFO blocks until a writer
            # comes), only recorded.
            reason = "not a regular file"
            return self._settle(db, store, folder_id, key, manifest.SKIPPED, reason, **record)
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            reason = f"unsupported file type '{path.suffix or path.name}'"
            return self._settle(db, store, folder_id, key, manifest.SKIPPED, reason, **record)
        if info.st_size > self.settings.max_bytes:
            reason = (
                f"too large: {info.st_size / 1e6:.1f} MB > limit "
                f"{self.settings.max_bytes / 1e6:.1f} MB"
            )
            return self._settle(db, store, folder_id, key, manifest.FAILED, reason, **record)
        try:
            digest = file_hash(path)
        except OSError as exc:
            return self._settle(
                db, store, folder_id, key, manifest.FAILED, read_error(exc), **record
            )
        if row and row["hash"] == digest and row["status"] == manifest.INDEXED:
            manifest.touch_file(db, row["id"], info.st_size, info.st_mtime)
            return None
        if row is None and self._adopt_moved(db, folder_id, key, digest, info):
            return None
        return Candidate(folder_id, key, row, digest, info)

    def _read(
        self,
        db: sqlite_utils.Database,
        store: VectorStore,
        candidates: list[Candidate],
        hold: Callable[[], None],
        on_file: Callable[[str], None],
        reread: list[str],
    ) -> Iterator[Prepared]:
        """The candidates loaded and chunked on the reading thread, in order; those that
        were skipped or failed to load are settled here instead, and those that changed
        while they were read go to `reread` (never stored half old, half new)."""
        paths = [Path(unescape_path(c.key)) for c in candidates]
        jobs = [self._reading.submit(self._load, path, hold) for path in paths]
        try:
            for candidate, path, job in zip(candidates, paths, jobs, strict=True):
                on_file(candidate.key)
                record = dict(size=candidate.info.st_size, mtime=candidate.info.st_mtime)
                args = (db, store, candidate.folder_id, candidate.key)
                try:
                    file_format, chunks, texts = job.result()
                except SkipFile as exc:
                    self._settle(*args, manifest.SKIPPED, str(exc), **record)
                except LoadError as exc:
                    self._settle(*args, manifest.FAILED, str(exc), **record)
                except Exception as exc:  # noqa: BLE001 - a chunking bug fails one file
                    if not_the_files_fault(exc):
                        raise
                    self._fail(*args, exc)
                else:
                    if not changed_since(path, candidate.info):
                        self._rereads.pop(candidate.key, None)
                        yield Prepared(candidate, file_format, chunks, texts)
                        continue
                    tries = self._rereads.get(candidate.key, 0) + 1
                    if tries < MAX_REREADS:
                        self._rereads[candidate.key] = tries
                        reread.append(str(path))
                    else:
                        reason = "kept changing while being read"
                        self._settle(*args, manifest.FAILED, reason, **record)
        finally:
            for job in jobs:  # after an error, files not yet read are not read in vain
                job.cancel()

    def _load(self, path: Path, hold: Callable[[], None]) -> tuple[str, list[Chunk], list[str]]:
        """Load and chunk one file; runs on the reading thread, so touches no SQLite."""
        hold()
        document = self.loader.load(path)
        chunks = chunk_document(
            document,
            self.embedder.count_tokens,
            self.settings.chunk_tokens,
            overlap=self.settings.overlap,
        )
        texts = [embed_text(c, self.settings.heading_in_embedding) for c in chunks]
        return document.format, chunks, texts

    def _commit(
        self,
        db: sqlite_utils.Database,
        store: VectorStore,
        ready: list[Prepared],
        vectors: CachedEmbedding,
    ) -> None:
        """Write each file's new generation, their vectors, then flip each file to it.

        All the batch's vectors go to Chroma in one call: a call costs about 50 ms whatever
        its size, which one call per file paid again and again.
        """
        written = [self._write_generation(db, p) for p in ready]
        ids = [i for _, _, chunk_ids in written for i in chunk_ids]
        if ids:
            file_ids = [f for f, _, chunk_ids in written for _ in chunk_ids]
            store.add(ids, vectors.vectors([t for p in ready for t in p.texts]), file_ids)
        for p, (file_id, generation, chunk_ids) in zip(ready, written, strict=True):
            manifest.make_live(
                db,
                file_id,
                generation,
                size=p.candidate.info.st_size,
                mtime=p.candidate.info.st_mtime,
                content_hash=p.candidate.digest,
                file_format=p.file_format,
                chunk_count=len(chunk_ids),
            )
            self.garbage.add(file_id)

    def _write_generation(
        self, db: sqlite_utils.Database, p: Prepared
    ) -> tuple[int, int, list[int]]:
        """The file's new chunk rows, not yet live: (file id, generation, chunk ids)."""
        c = p.candidate
        file_id = (
            c.row["id"]
            if c.row
            else manifest.record_file(db, c.folder_id, c.key, status="indexing", size=-1, mtime=-1)
        )
        generation, ids = manifest.write_generation(
            db,
            file_id,
            [
                {
                    "text": chunk.text,
                    "heading": list(chunk.heading),
                    "page": chunk.page,
                    "line_start": chunk.line_start,
                    "line_end": chunk.line_end,
                    "embed_hash": text_hash(t),
                }
                for chunk, t in zip(p.chunks, p.texts, strict=True)
            ],
        )
        return file_id, generation, ids

    def _settle(self, db, store, folder_id, key, status, reason, *, size, mtime) -> None:
        """Record a skipped or failed file; chunks of an earlier version go."""
        self._rereads.pop(key, None)
        reason = printable(reason)  # an OS message may quote the file's undecodable name
        file_id = manifest.record_file(
            db, folder_id, key, status=status, size=size, mtime=mtime, error=reason
        )
        dropped = manifest.drop_live_chunks(db, file_id)
        if dropped:
            store.delete(dropped)
        if status == manifest.FAILED:
            log.warning("failed to index %s: %s", key, reason)

    def _fail(self, db, store, folder_id: int, key: str, exc: Exception) -> None:
        """A file that raised what no check foresaw: failed with the error as its reason,
        so that the rest of its batch goes on."""
        log.error("indexing %s failed", key, exc_info=exc)
        try:
            info = os.lstat(unescape_path(key))
            size, mtime = info.st_size, info.st_mtime
        except OSError:
            size, mtime = -1, -1.0  # looked at again on the next scan
        reason = f"could not index: {type(exc).__name__}: {exc}"
        self._settle(db, store, folder_id, key, manifest.FAILED, reason, size=size, mtime=mtime)

    def _record_link(self, db, store, folder_id, path: Path, info: os.stat_result) -> None:
        try:
            os.stat(path)
        except OSError as exc:
            reason = "symlink loop" if exc.errno == errno.ELOOP else "broken symbolic link"
            status = manifest.FAILED if exc.errno == errno.ELOOP else manifest.SKIPPED
        else:
            # Its target is indexed where it lies, if that is in a watched folder.
            reason, status = "symbolic link (not followed)", manifest.SKIPPED
        key, record = escape_path(path), dict(size=info.st_size, mtime=info.st_mtime)
        self._settle(db, store, folder_id, key, status, reason, **record)

    def _adopt_moved(self, db, folder_id, key, digest, info) -> bool:
        """A new path whose content an indexed file had, whose path is gone: a rename."""
        for candidate in manifest.files_with_hash(db, digest):
            if not os.path.lexists(unescape_path(candidate["path"])):
                manifest.rename_file(db, candidate["id"], key, folder_id)
                manifest.touch_file(db, candidate["id"], info.st_size, info.st_mtime)
                return True
        return False
