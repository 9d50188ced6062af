"""Fixtures on real parts: the packaged models, a real daemon process, a real database."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Hypothesis (under the API contract test) caches what it collects in ./.hypothesis/ at
# collection time otherwise: outside the repository.
os.environ.setdefault(
    "HYPOTHESIS_STORAGE_DIRECTORY", str(Path(tempfile.gettempdir()) / "cove-hypothesis")
)

from tests.support.daemon import RunningDaemon, start_daemon  # noqa: E402

# Fixtures that start a real daemon process or train: a test using any of them is `slow`,
# so `make test-fast` (pytest -m "not slow") leaves it out. Modules that start daemons or
# terminals inline carry `pytestmark = pytest.mark.slow` themselves.
SLOW_FIXTURES = {"daemon", "kb_daemon", "hf_base", "trained", "noise_trained"}


# `make test` runs the suite on two pytest-xdist workers (`--dist loadgroup`): a module
# goes to one worker whole, so its module-scoped daemon starts once; modules sharing an
# expensive session fixture go to the same worker, so it is built once.
SHARED_GROUPS = {
    "training": {"hf_base", "tokenizer", "trained", "noise_trained", "probe_backend"},
    "onnx": {"onnx_export"},
}


@pytest.hookimpl(tryfirst=True)  # before xdist turns the group marks into work units
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    by_module: dict[str, set[str]] = {}
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if SLOW_FIXTURES & fixtures:
            item.add_marker(pytest.mark.slow)
        by_module.setdefault(item.nodeid.split("::")[0], set()).update(fixtures)
    for item in items:
        module = item.nodeid.split("::")[0]
        shared = [name for name, needs in SHARED_GROUPS.items() if needs & by_module[module]]
        item.add_marker(pytest.mark.xdist_group(shared[0] if shared else module))


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
    from cove.index.onnx_export import ensure_export

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
