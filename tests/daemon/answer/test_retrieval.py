"""The daemon's retriever: configured parameters, and per-request overrides of them."""

from __future__ import annotations

from cove.daemon.answer.retrieve import Retriever
from cove.index.loaders.isolated import IsolatedLoader
from cove.index.search import SearchParams
from tests.support.kb import ingester_for

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
    loader = IsolatedLoader(timeout_s=30, max_bytes=10_000_000)
    db, store, folder_id, ingester = ingester_for(tmp_path, embedder, loader)
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
