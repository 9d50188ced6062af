"""Fixtures on real parts: the packaged models, a real daemon process, a real database."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from tests.support.daemon import RunningDaemon, start_daemon  # noqa: E402


@pytest.fixture(scope="session")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> RunningDaemon:
    """One real daemon shared by the tests that don't need their own."""
    running = start_daemon(tmp_path_factory.mktemp("cove-home"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def default_gguf():
    from cove.daemon.runtime.models import default_gguf

    return default_gguf()


@pytest.fixture(scope="session")
def llama_backend(default_gguf):
    """The default chat model loaded in this process (for runtime and API tests)."""
    from cove.daemon.runtime.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(default_gguf, "smollm2-135m-instruct", context=2048, threads=2)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def embedder():
    from cove.index.embedder import Embedder, default_model_path

    return Embedder(default_model_path())


@pytest.fixture(scope="session")
def hf_base(tmp_path_factory, default_gguf) -> Path:
    """The default chat GGUF as an HF model directory, converted once for the whole run
    (the fine-tuning library's tests and the daemon's training tests share it)."""
    from cove.finetune.base import prepare_base

    return prepare_base(default_gguf, tmp_path_factory.mktemp("finetune-base"))


@pytest.fixture(scope="session")
def onnx_export(tmp_path_factory) -> Path:
    """One real ONNX export of the default embedder (fp32 and int8 graphs) for the whole
    run; tests that change it copy it first."""
    from cove.index.embedder import default_model_path
    from cove.index.onnx_embedder import ensure_export

    return ensure_export(default_model_path(), tmp_path_factory.mktemp("onnx-models"))


def int8_refusal(export: Path) -> str | None:
    """Why this CPU's int8 graph was refused, or None when it passed its cosine bar.

    onnxruntime picks its int8 kernels per CPU (AVX2, AVX-512, VNNI), so the quantized graph
    may lose more on one machine than on another. Both outcomes are correct behaviour: the
    export is used, or it is refused with a message saying to use torch.
    """
    from cove.index.embedder import default_model_path, load_embedder

    try:
        load_embedder(default_model_path(), "onnx-int8", cache_dir=export.parent)
    except ValueError as exc:
        assert "keeps too little of the model" in str(exc), exc
        assert 'backend = "torch"' in str(exc), exc
        return str(exc)
    return None
