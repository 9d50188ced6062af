"""Switching `[embeddings] backend`: to and from int8 like a change of model; onnx as torch."""

from __future__ import annotations

import json
import shutil

import pytest

from cove.index.onnx_embedder import MANIFEST
from cove.index.vectors import persistent_client
from tests.conftest import int8_refusal
from tests.support.daemon import start_daemon
from tests.support.kb import paths_found, wait_idle, write

pytestmark = pytest.mark.slow  # real daemon processes (make test-fast skips them)


def test_switching_backend_keeps_int8_vectors_apart_and_onnx_with_torch(tmp_path, onnx_export):
    folder = tmp_path / "notes"
    write(folder / "well.md", "The village well is forty feet deep.\n")
    write(folder / "pump.md", "The hand pump was installed in 1903.\n")
    home = tmp_path / "home"
    daemon = start_daemon(home)
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
