"""The ONNX backends against the torch one, on a real export of the packaged model (the
export and its cache: onnx_export; encoding and pooling: onnx_embedder)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from cove.index import onnx_embedder
from cove.index.embedder import default_model_path, load_embedder
from cove.index.onnx_export import GRAPHS, MANIFEST, ensure_export, export_dir
from cove.index.vectors import collection_name
from tests.conftest import int8_refusal

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def cache_root(onnx_export) -> Path:
    """Where the run's one real export lives (made in under a minute on two cores)."""
    return onnx_export.parent


@pytest.fixture(scope="module")
def int8(cache_root, onnx_export):
    """The int8 embedder, where this CPU's int8 kernels keep enough of the model. Where
    they do not, the export's refusal (checked in `int8_refusal`) is the right outcome and
    the tests of int8 vectors skip with it."""
    refused = int8_refusal(onnx_export)
    if refused:
        pytest.skip(f"int8 refused on this CPU, as designed: {refused}")
    return load_embedder(default_model_path(), "onnx-int8", cache_dir=cache_root, batch_size=16)


@pytest.fixture(scope="module")
def fp32(cache_root):
    return load_embedder(default_model_path(), "onnx", cache_dir=cache_root)


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """50 paragraphs of real prose, lists, tables and code: Cove's own README."""
    paragraphs = re.split(r"\n\s*\n", README.read_text(encoding="utf-8"))
    found = [p.strip() for p in paragraphs if len(p.split()) >= 12]
    assert len(found) >= 50
    return found[:50]


@pytest.fixture(scope="module")
def vectors(int8, embedder, texts) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(int8.embed(texts)), np.asarray(embedder.embed(texts))


def test_vectors_have_the_model_dimension_and_unit_length(int8, embedder, vectors):
    quantized, _ = vectors
    assert int8.dimension == embedder.dimension == 384
    assert int8.max_seq_length == embedder.max_seq_length == 256
    assert quantized.shape == (50, 384)
    assert np.allclose(np.linalg.norm(quantized, axis=1), 1.0, atol=1e-4)


def test_int8_vectors_stay_close_to_torch(vectors):
    quantized, exact = vectors
    cosines = (quantized * exact).sum(axis=1)
    assert cosines.mean() >= 0.98
    assert cosines.min() >= 0.95


def test_int8_nearest_neighbours_agree_with_torch(vectors):
    quantized, exact = vectors
    mine, theirs = quantized @ quantized.T, exact @ exact.T
    np.fill_diagonal(mine, -2.0)
    np.fill_diagonal(theirs, -2.0)
    same_top = (mine.argmax(axis=1) == theirs.argmax(axis=1)).mean()
    top3 = np.argsort(-mine, axis=1)[:, :3]
    within_top3 = np.mean([t in row for t, row in zip(theirs.argmax(axis=1), top3, strict=True)])
    assert same_top >= 0.9
    assert within_top3 >= 0.98


def test_fp32_vectors_are_torch_vectors(fp32, embedder, vectors, texts):
    # It shares torch's collection and cache key, so nothing but float rounding may differ.
    _, exact = vectors
    mine = np.asarray(fp32.embed(texts))
    assert np.abs(mine - exact).max() < 1e-4
    assert ((mine * exact).sum(axis=1)).min() > 0.99999


def test_a_text_gets_the_same_vector_alone_or_among_others(int8, texts):
    # Dynamic quantization scales activations per tensor: batch-mates would shift vectors.
    alone = np.asarray(int8.embed([texts[7]]))[0]
    among = np.asarray(int8.embed(list(reversed(texts))))[-8]
    assert np.allclose(alone, among, atol=1e-6)
    assert int8.embed([]) == []


def test_count_tokens_equals_torch(fp32, embedder, texts):
    long_text = " ".join(texts)  # far past max_seq_length: counted in full, like torch
    for text in [*texts[:10], long_text, "naïve café — 東京 🙂", ""]:
        assert fp32.count_tokens(text) == embedder.count_tokens(text)


def test_only_int8_has_its_own_identity(int8, fp32, embedder):
    assert embedder.name == fp32.name == "all-MiniLM-L6-v2"
    assert int8.name == "all-MiniLM-L6-v2+onnx-int8"
    assert collection_name(int8.name, 384) != collection_name(embedder.name, 384)


def test_export_is_recorded_in_a_manifest(onnx_export, fp32, cache_root):
    folder = export_dir(cache_root, default_model_path())
    assert folder == onnx_export
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["source"] == str(default_model_path().resolve())
    assert manifest["per_channel"] is True and manifest["weight_type"] == "QInt8"
    assert manifest["probe_cosine"]["onnx"] >= 0.9999
    # int8 either passes its bar and is served, or is refused (which CPU decides)
    refused = int8_refusal(onnx_export)
    assert (manifest["probe_cosine"]["onnx-int8"] >= 0.98) is (refused is None)
    if refused is None:
        int8 = load_embedder(default_model_path(), "onnx-int8", cache_dir=cache_root)
        assert int8.onnx_path == folder / GRAPHS["onnx-int8"]
    assert fp32.onnx_path == folder / GRAPHS["onnx"]
    assert not [p.name for p in cache_root.iterdir() if p.name.startswith(".")]  # no temp left


@pytest.fixture
def fake_export(onnx_export, monkeypatch) -> list[Path]:
    """Counts exports; each one copies the real graphs instead of redoing the work."""
    calls: list[Path] = []

    def export(model_path: Path, work: Path) -> dict[str, float]:
        calls.append(work)
        for graph in GRAPHS.values():
            shutil.copy(onnx_export / graph, work / graph)
        return {"onnx": 1.0, "onnx-int8": 0.99}

    monkeypatch.setattr("cove.index.onnx_export._export", export)
    return calls


def test_a_current_export_is_reused(fp32, cache_root, fake_export):
    before = fp32.onnx_path.stat().st_mtime_ns
    again = load_embedder(default_model_path(), "onnx", cache_dir=cache_root)
    assert fake_export == []
    assert again.onnx_path.stat().st_mtime_ns == before


@pytest.mark.parametrize("damage", ["stale", "missing"])
def test_a_stale_or_missing_export_is_made_again(onnx_export, tmp_path, fake_export, damage):
    folder = export_dir(tmp_path, default_model_path())
    shutil.copytree(onnx_export, folder)
    if damage == "stale":  # as if the model's files had changed since
        manifest = json.loads((folder / MANIFEST).read_text())
        (folder / MANIFEST).write_text(json.dumps({**manifest, "fingerprint": "0" * 64}))
    else:
        (folder / GRAPHS["onnx"]).unlink()
    assert ensure_export(default_model_path(), tmp_path) == folder
    assert len(fake_export) == 1
    assert json.loads((folder / MANIFEST).read_text())["fingerprint"] != "0" * 64
    assert ensure_export(default_model_path(), tmp_path) == folder
    assert len(fake_export) == 1  # current now: reused


def test_temp_dirs_of_killed_exports_are_cleared(tmp_path, fake_export):
    folder = export_dir(tmp_path, default_model_path())
    killed, recent = tmp_path / f".{folder.name}-abc123", tmp_path / f".{folder.name}-def456"
    for leftover in (killed, recent):
        leftover.mkdir()
        (leftover / "raw.onnx").write_bytes(b"half")
    os.utime(killed, (1_000_000_000, 1_000_000_000))  # long ago
    ensure_export(default_model_path(), tmp_path)
    assert not killed.exists()
    assert recent.exists()  # it may be another process's export in progress


@pytest.mark.parametrize(("backend", "probe"), [("onnx-int8", 0.9), ("onnx", 0.9995)])
def test_a_graph_that_lost_too_much_is_refused(onnx_export, tmp_path, backend, probe):
    folder = export_dir(tmp_path, default_model_path())
    shutil.copytree(onnx_export, folder)
    manifest = json.loads((folder / MANIFEST).read_text())
    manifest["probe_cosine"][backend] = probe
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match=f"probe cosine {probe} <"):
        load_embedder(default_model_path(), backend, cache_dir=tmp_path)


def test_unknown_backends_and_a_missing_cache_dir_are_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown embedding backend 'onnx-fp16'"):
        load_embedder(default_model_path(), "onnx-fp16", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="cache directory"):
        load_embedder(default_model_path(), "onnx-int8")
    with pytest.raises(FileNotFoundError):
        load_embedder(tmp_path / "absent", "onnx", cache_dir=tmp_path)


@pytest.mark.parametrize(
    ("config", "mode"),
    [
        ({"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}, "mean"),
        ({"pooling_mode_cls_token": True}, "cls"),
        ({"pooling_mode": "max"}, "max"),
        ({"pooling_mode": ["mean_sqrt_len_tokens"]}, "mean_sqrt_len_tokens"),
    ],
)
def test_pooling_is_read_from_either_config_format(config, mode):
    assert onnx_embedder._pooling_from_config(config) == mode


@pytest.mark.parametrize(
    "config", [{"pooling_mode": "lasttoken"}, {"pooling_mode": ["cls", "mean"]}, {}]
)
def test_unsupported_pooling_is_refused(config):
    with pytest.raises(ValueError, match="not supported"):
        onnx_embedder._pooling_from_config(config)


def test_pool_excludes_padding():
    tokens = np.array([[[1.0, 0.0], [3.0, 2.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[1, 1, 0]])
    assert onnx_embedder.pool(tokens, mask, "mean").tolist() == [[2.0, 1.0]]
    assert onnx_embedder.pool(tokens, mask, "max").tolist() == [[3.0, 2.0]]
    assert onnx_embedder.pool(tokens, mask, "cls").tolist() == [[1.0, 0.0]]
