"""The daemon's retriever: configured parameters, and per-request overrides of them."""

from __future__ import annotations

from cove.daemon.answer.retrieve import Retriever
from cove.daemon.ingest.pipeline import FileIngester, IngestSettings
from cove.daemon.store import open_db
from cove.index import manifest
from cove.index.loaders.isolated import IsolatedLoader
from cove.index.search import SearchParams
from cove.index.vectors import VectorStore, collection_name, persistent_client

# Three near-copies of one answer and one distinct page on the same subject: MMR with a
# low lambda must pull the distinct page up, plain fusion keeps the copies together.
PAGES = {
    "copy-1.md": "# Tides\n\nThe lighthouse keeper records the tides at dawn in the logbook.\n",
    "copy-2.md": "# Tides\n\nThe lighthouse keeper records the tides at dawn in a logbook.\n",
    "copy-3.md": "# Tides\n\nAt dawn the lighthouse keeper records the tides in the logbook.\n",
    "other.md": "# Storms\n\nDuring storms the keeper of the lighthouse lights a second lamp.\n",
}


def test_an_mmr_lambda_of_one_turns_configured_mmr_off(tmp_path, embedder):
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in PAGES.items():
        (folder / name).write_text(text)
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
    ingester = FileIngester(embedder, IsolatedLoader(timeout_s=30, max_bytes=10_000_000), settings)
    try:
        files = [(folder_id, folder / name) for name in PAGES]
        ingester.ingest_many(db, store, files, yield_to_chat=lambda: None)
    finally:
        ingester.close()

    def ranking(params: SearchParams, **overrides) -> list[str]:
        retriever = Retriever(tmp_path / "cove.db", store, embedder, params)
        hits, _ = retriever.search("when does the lighthouse keeper record the tides", **overrides)
        return [hit.path.rsplit("/", 1)[-1] for hit in hits]

    plain = ranking(SearchParams(k=4))
    diverse = ranking(SearchParams(k=4, mmr_lambda=0.3))
    assert plain[-1] == "other.md" and diverse[1] == "other.md"
    assert ranking(SearchParams(k=4, mmr_lambda=0.3), mmr_lambda=1.0) == plain
    assert ranking(SearchParams(k=4), mmr_lambda=0.3) == diverse
