"""One file's way into the index, on the real loader child, embedder, SQLite and Chroma."""

from __future__ import annotations

from pathlib import Path

from cove.daemon.ingest import FileIngester, IngestSettings
from cove.daemon.store import open_db
from cove.index import manifest
from cove.index.loaders.isolated import IsolatedLoader
from cove.index.vectors import VectorStore, collection_name, persistent_client


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
    ingester = FileIngester(embedder, VanishingLoader({doomed}), settings)
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
