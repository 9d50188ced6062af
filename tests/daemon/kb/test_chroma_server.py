"""The same index on a Chroma server (`chroma run` on loopback) instead of the embedded one."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from cove.index.vectors import http_client
from tests.support.daemon import free_port, start_daemon
from tests.support.kb import paths_found, wait_for, wait_idle, write

pytestmark = pytest.mark.slow  # real daemon processes (make test-fast skips them)

CHROMA = Path(sys.executable).with_name("chroma")


@pytest.fixture
def chroma_server(tmp_path):
    if not CHROMA.exists() and shutil.which("chroma") is None:
        pytest.skip("the chroma CLI (from the chromadb package) is not installed")
    port = free_port()
    server = subprocess.Popen(
        [
            str(CHROMA if CHROMA.exists() else "chroma"),
            "run",
            "--path",
            str(tmp_path / "srv"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def up() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).is_success
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, timeout=60, what="chroma server")
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_indexing_and_search_through_a_chroma_server(tmp_path, chroma_server):
    folder = tmp_path / "notes"
    note = write(folder / "mast.md", "The radio mast on Beacon Hill is 212 metres tall.\n")
    daemon = start_daemon(
        tmp_path / "home",
        config=f'[index]\nchroma = "http"\nchroma_port = {chroma_server}\n',
    )
    try:
        assert daemon.cove("folders", "add", str(folder)).returncode == 0
        wait_idle(daemon)
        assert paths_found(daemon, "radio mast Beacon Hill")[0] == str(note.resolve())
    finally:
        daemon.stop()
    client = http_client("127.0.0.1", chroma_server)
    names = [c.name for c in client.list_collections()]
    assert "cove-multilingual-e5-small-q4-384" in names
    assert client.get_collection("cove-multilingual-e5-small-q4-384").count() >= 1
    assert not any((tmp_path / "home" / "chroma").iterdir())  # nothing written locally
