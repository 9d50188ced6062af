"""Fixtures on real parts: the packaged models, a real daemon process, a real database."""

from __future__ import annotations

import os

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
