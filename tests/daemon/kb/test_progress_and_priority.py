"""Progress reporting, pause/resume, chat before indexing, and an embedding-model change."""

from __future__ import annotations

import json
import shutil
import threading

import httpx
import pytest

from cove.index.embedder import default_model_path
from cove.index.vectors import persistent_client
from tests.support.daemon import start_daemon
from tests.support.kb import index_status, paths_found, wait_for, wait_idle, write

pytestmark = pytest.mark.slow  # real daemon processes (make test-fast skips them)


@pytest.fixture(scope="module")
def busy(tmp_path_factory):
    root = tmp_path_factory.mktemp("busy")
    folder = root / "notes"
    write(folder / "seed.md", "The seed vault keeps four hundred varieties of bean.\n")
    daemon = start_daemon(root / "home")
    try:
        assert daemon.cove("folders", "add", str(folder)).returncode == 0
        wait_idle(daemon)
        yield daemon, folder
    finally:
        daemon.stop()


def test_the_event_stream_reports_progress(busy):
    daemon, folder = busy
    seen: list[dict] = []

    def listen():
        with daemon.client() as client:
            for event, data in client.index_events():
                if event == "status":
                    seen.append(data)
                    if len(seen) > 1 and data["state"] == "idle":
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    wait_for(lambda: seen, what="the first event")
    for n in range(5):
        write(folder / f"event{n}.md", f"Event note {n} about the weir and its sluice.\n")
    listener.join(timeout=60)
    assert seen[0].keys() >= {"state", "queued", "files", "failed", "current_file"}
    assert any(s["state"] != "idle" for s in seen)
    assert seen[-1]["state"] == "idle" and seen[-1]["files"] >= seen[0]["files"] + 5


def test_index_status_draws_a_progress_bar(busy):
    daemon, _ = busy
    done = daemon.cove("index", "status")
    assert done.returncode == 0
    assert done.stdout.startswith("[") and "%" in done.stdout and "files" in done.stdout


def test_pause_holds_indexing_until_resume(busy):
    daemon, folder = busy
    before = wait_idle(daemon)
    assert daemon.cove("index", "pause").returncode == 0
    note = write(folder / "paused.md", "While paused, the mill pond froze over.\n")
    wait_for(lambda: index_status(daemon)["queued"] >= 1, what="the change queued")
    status = index_status(daemon)
    assert status["paused"] is True and status["ingests_total"] == before["ingests_total"]
    assert daemon.cove("index", "resume").returncode == 0
    wait_for(
        lambda: str(note.resolve()) in paths_found(daemon, "mill pond froze"),
        what="indexed after resume",
    )


def test_indexing_waits_while_the_model_answers(busy):
    daemon, folder = busy
    wait_idle(daemon)
    waits = index_status(daemon)["chat_waits"]
    headers = {"Authorization": f"Bearer {daemon.token}"}
    body = {
        "messages": [{"role": "user", "content": "Write a long story about a canal."}],
        "stream": True,
        "max_tokens": 400,
        "temperature": 0.8,
    }
    with httpx.stream(
        "POST", f"{daemon.url}/v1/chat/completions", headers=headers, json=body, timeout=120
    ) as response:
        lines = response.iter_lines()
        next(lines)  # generation has started
        for n in range(40):
            write(
                folder / f"during{n}.md",
                f"Lock keeper note {n}: boats pass the canal lock at dawn. " * 10,
            )
        wait_for(
            lambda: index_status(daemon)["chat_waits"] > waits,
            timeout=60,
            what="the indexer to hold back for chat",
        )
        during = index_status(daemon)["embed_batches_total"]
        for _ in range(30):
            next(lines)
        # No embedding batch started while the answer was being generated.
        assert index_status(daemon)["embed_batches_total"] == during
    status = wait_idle(daemon)
    assert status["files"] >= 41


def test_a_new_embedding_model_reembeds_into_a_new_collection(tmp_path):
    model_copy = tmp_path / "minilm-copy"
    shutil.copytree(default_model_path(), model_copy)
    folder = tmp_path / "notes"
    write(folder / "well.md", "The village well is forty feet deep.\n")
    write(folder / "pump.md", "The hand pump was installed in 1903.\n")
    home = tmp_path / "home"
    daemon = start_daemon(home)
    assert daemon.cove("folders", "add", str(folder)).returncode == 0
    wait_idle(daemon)
    daemon.stop()

    (home / "config.toml").write_text(f'[embeddings]\nmodel = "{model_copy}"\n')
    daemon.start()
    try:
        status = wait_idle(daemon)
        assert status["collection"] == "cove-minilm-copy-384"
        assert status["embedded_total"] == status["chunks"] == 2
        assert paths_found(daemon, "how deep is the well")[0].endswith("well.md")
        doc = json.loads(daemon.cove("status", "--json").stdout)
        assert doc["index"]["files"] == 2
    finally:
        daemon.stop()
    names = [c.name for c in persistent_client(str(home / "chroma")).list_collections()]
    assert names == ["cove-minilm-copy-384"]
