"""One file's way into the index, on the real loader child, embedder, SQLite and Chroma."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from cove.daemon.ingest.pipeline import MAX_REREADS
from cove.index import manifest
from cove.index.loaders.isolated import IsolatedLoader
from tests.support.kb import ingester_for


class VanishingLoader(IsolatedLoader):
    """Deletes chosen files after they were stat'ed and hashed, just before they are read.

    On POSIX an open file stays readable after it is unlinked, so "vanished mid-read" is a
    file gone between the manifest's look at it and the loader's open: this makes it happen
    on every run instead of by chance.
    """

    def __init__(self, doomed: set[Path]) -> None:
        super().__init__(timeout_s=30, max_bytes=10_000_000)
        self.doomed = doomed

    def load(self, path: Path):
        if path in self.doomed:
            path.unlink()
        return super().load(path)


def test_a_file_that_vanishes_mid_read_fails_with_a_reason_and_spares_the_others(
    tmp_path, embedder
):
    folder = tmp_path / "docs"
    folder.mkdir()
    doomed = folder / "doomed.md"
    doomed.write_text("# Doomed\n\nThis page is deleted while Cove reads it.\n")
    kept = folder / "kept.md"
    kept.write_text("# Kept\n\nThe lighthouse keeper logs the tides.\n")
    db, store, folder_id, ingester = ingester_for(tmp_path, embedder, VanishingLoader({doomed}))
    try:
        outcome = ingester.ingest_many(
            db, store, [(folder_id, doomed), (folder_id, kept)], yield_to_chat=lambda: None
        )
    finally:
        ingester.close()

    gone = manifest.get_file(db, str(doomed))
    assert (gone["status"], gone["error"]) == ("failed", "file vanished while reading")
    survivor = manifest.get_file(db, str(kept))
    assert survivor["status"] == "indexed" and survivor["chunk_count"] >= 1
    assert outcome.ingested == 1
    assert store.count() == survivor["chunk_count"]


class ChangingLoader(IsolatedLoader):
    """Runs a writer's change on chosen files right after the real loader read them, so
    that "changed while Cove read it" happens on every run instead of by chance. A change
    runs once unless `always` is set."""

    def __init__(self, changes: dict[Path, Callable[[Path], None]], always: bool = False):
        super().__init__(timeout_s=30, max_bytes=10_000_000)
        self.changes = changes
        self.always = always

    def load(self, path: Path):
        document = super().load(path)
        change = self.changes.get(path) if self.always else self.changes.pop(path, None)
        if change is not None:
            change(path)
        return document


def live_text(db, path: Path) -> str:
    row = manifest.get_file(db, str(path))
    ids = list(db.execute("SELECT id FROM chunks WHERE file_id = ?", [row["id"]]).fetchall())
    return " ".join(c["text"] for c in manifest.live_chunks(db, [i[0] for i in ids]).values())


def test_a_file_rewritten_while_read_keeps_its_old_version_until_read_again(tmp_path, embedder):
    loader = ChangingLoader({})
    db, store, folder_id, ingester = ingester_for(tmp_path, embedder, loader)
    notes = tmp_path / "docs" / "tides.md"
    notes.write_text("# Tides\n\nHigh water at noon on the first day.\n")
    try:
        ingester.ingest_many(db, store, [(folder_id, notes)], yield_to_chat=lambda: None)
        notes.write_text("# Tides\n\nHigh water at dusk on the second day, a longer note.\n")
        loader.changes[notes] = lambda p: p.write_text("# Tides\n\nThe final word: dawn.\n")
        outcome = ingester.ingest_many(db, store, [(folder_id, notes)], lambda: None)

        assert (outcome.ingested, outcome.reread) == (0, [str(notes)])
        assert "noon" in live_text(db, notes)  # the old version, whole: nothing half-stored
        again = ingester.ingest_many(db, store, [(folder_id, notes)], lambda: None)
    finally:
        ingester.close()
    assert (again.ingested, again.reread) == (1, [])
    assert "dawn" in live_text(db, notes) and "noon" not in live_text(db, notes)


def test_a_file_truncated_or_replaced_while_read_is_not_stored(tmp_path, embedder):
    def truncate(path: Path) -> None:
        with path.open("r+") as handle:
            handle.truncate(10)

    def replace_keeping_size_and_mtime(path: Path) -> None:
        # Another file of the same size and mtime: only its inode tells it apart.
        before = path.stat()
        other = path.with_suffix(".tmp")
        other.write_text(path.read_text().replace("owls", "emus"))
        os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
        os.replace(other, path)

    folder = tmp_path / "docs"
    folder.mkdir()
    truncated = folder / "truncated.md"
    truncated.write_text("# Barn\n\nThe barn owls hunt at night over the meadow.\n")
    replaced = folder / "replaced.md"
    replaced.write_text("# Tower\n\nThe owls nest in the bell tower every spring.\n")
    steady = folder / "steady.md"
    steady.write_text("# Steady\n\nNothing moves in this note.\n")
    loader = ChangingLoader({truncated: truncate, replaced: replace_keeping_size_and_mtime})
    db, store, folder_id, ingester = ingester_for(tmp_path, embedder, loader)
    files = [(folder_id, truncated), (folder_id, replaced), (folder_id, steady)]
    try:
        outcome = ingester.ingest_many(db, store, files, yield_to_chat=lambda: None)
        assert outcome.reread == [str(truncated), str(replaced)]
        assert manifest.get_file(db, str(truncated)) is None
        assert manifest.get_file(db, str(replaced)) is None
        assert store.count() == manifest.get_file(db, str(steady))["chunk_count"]
        again = ingester.ingest_many(db, store, files[:2], yield_to_chat=lambda: None)
    finally:
        ingester.close()
    assert (again.ingested, again.reread) == (2, [])
    assert "owls" not in live_text(db, truncated)  # indexed as it ends up: "# Barn\n\nTh"
    assert "emus" in live_text(db, replaced) and "owls" not in live_text(db, replaced)


def test_a_file_that_never_stops_changing_fails_with_a_reason(tmp_path, embedder):
    def append(path: Path) -> None:
        with path.open("a") as handle:
            handle.write("another line\n")

    folder = tmp_path / "docs"
    folder.mkdir()
    log = folder / "busy.md"
    log.write_text("# Busy\n\nA note someone keeps writing to.\n")
    db, store, folder_id, ingester = ingester_for(
        tmp_path, embedder, ChangingLoader({log: append}, always=True)
    )
    try:
        rereads = [
            ingester.ingest_many(db, store, [(folder_id, log)], lambda: None).reread
            for _ in range(MAX_REREADS)
        ]
    finally:
        ingester.close()
    assert rereads == [[str(log)]] * (MAX_REREADS - 1) + [[]]
    row = manifest.get_file(db, str(log))
    assert (row["status"], row["error"]) == ("failed", "kept changing while being read")


class BrokenLoader(IsolatedLoader):
    """Raises what no loader check foresees (a bug) for chosen files."""

    def __init__(self, broken: set[Path]) -> None:
        super().__init__(timeout_s=30, max_bytes=10_000_000)
        self.broken = broken

    def load(self, path: Path):
        if path in self.broken:
            raise RuntimeError("an unforeseen bug")
        return super().load(path)


def test_an_unforeseen_error_fails_one_file_and_spares_its_batch(tmp_path, embedder):
    folder = tmp_path / "docs"
    folder.mkdir()
    paths = [folder / f"n{i}.md" for i in range(3)]
    for i, path in enumerate(paths):
        path.write_text(f"# Note {i}\n\nNote number {i} of three.\n")
    db, store, folder_id, ingester = ingester_for(tmp_path, embedder, BrokenLoader({paths[1]}))
    try:
        outcome = ingester.ingest_many(db, store, [(folder_id, p) for p in paths], lambda: None)
    finally:
        ingester.close()
    assert outcome.ingested == 2
    row = manifest.get_file(db, str(paths[1]))
    assert (row["status"], row["error"]) == (
        "failed",
        "could not index: RuntimeError: an unforeseen bug",
    )
    assert [manifest.get_file(db, str(p))["status"] for p in (paths[0], paths[2])] == [
        "indexed",
        "indexed",
    ]
