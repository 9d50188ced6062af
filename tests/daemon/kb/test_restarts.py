"""Nothing is lost across a stop, a crash (kill -9) or changes made while the daemon is down."""

from __future__ import annotations

import json
import os
import signal

import pytest

from cove.daemon.ops.launch import process_alive
from tests.support.daemon import start_daemon
from tests.support.kb import consistency, index_status, paths_found, wait_for, wait_idle, write

pytestmark = pytest.mark.slow  # real daemon processes (make test-fast skips them)


def test_changes_made_while_down_are_picked_up_at_start(tmp_path):
    folder = tmp_path / "notes"
    keep = write(folder / "keep.md", "The granary stores barley and rye.\n")
    edit = write(folder / "edit.md", "The mill wheel turns on the east stream.\n")
    gone = write(folder / "gone.md", "The dovecote houses forty pigeons.\n")
    move = write(folder / "move.md", "The smithy forges horseshoes on Thursdays.\n")
    daemon = start_daemon(tmp_path / "home")
    assert daemon.cove("folders", "add", str(folder)).returncode == 0
    before = wait_idle(daemon)
    daemon.stop()

    write(edit, "The mill wheel now turns on the west stream.\n")
    gone.unlink()
    os.rename(move, folder / "moved.md")
    added = write(folder / "added.md", "The cider press runs every autumn.\n")

    daemon.start()
    try:
        after = wait_idle(daemon)
        assert paths_found(daemon, "cider press autumn")[0] == str(added.resolve())
        assert str(edit.resolve()) in paths_found(daemon, "mill wheel west stream")
        assert all("gone.md" not in p for p in paths_found(daemon, "dovecote pigeons", k=20))
        assert paths_found(daemon, "smithy horseshoes")[0].endswith("moved.md")
        assert str(keep.resolve()) in paths_found(daemon, "granary barley rye")
        assert after["files"] == before["files"]  # -gone +added, the move kept its row
        # The renamed file's chunks were adopted, not embedded again: only edit + added.
        assert after["embedded_total"] <= 2
    finally:
        daemon.stop()
    report = consistency(tmp_path / "home")
    assert report["live"] == report["vectors"] and report["stale"] == 0


DOCS = 80  # two chunks each: the kill lands after 20 ingests, well before the end


def test_kill_9_mid_ingest_is_repaired_at_restart(tmp_path):
    folder = tmp_path / "corpus"
    for n in range(DOCS):
        write(
            folder / f"doc{n:03}.md",
            f"# Document {n}\n\n" + f"Record {n} of the harbour archive, shelf {n % 7}. " * 40,
        )
    daemon = start_daemon(tmp_path / "home")
    assert daemon.cove("folders", "add", str(folder)).returncode == 0
    wait_for(
        lambda: index_status(daemon)["ingests_total"] >= 20, timeout=120, what="indexing under way"
    )
    status = index_status(daemon)
    assert status["state"] != "idle"
    os.kill(daemon.info["pid"], signal.SIGKILL)
    wait_for(lambda: not process_alive(daemon.info["pid"]), what="daemon killed")

    daemon.start()  # a stale daemon.json and lock are handled
    try:
        final = wait_idle(daemon, timeout=300)
        assert final["files"] == DOCS and final["failed"] == 0
        hit = paths_found(daemon, "Record 73 of the harbour archive shelf 3")
        assert any(p.endswith("doc073.md") for p in hit)
        doc = json.loads(daemon.cove("status", "--json").stdout)
        assert doc["index"]["chunks"] == final["chunks"]
    finally:
        daemon.stop()
    report = consistency(tmp_path / "home")
    assert report["stale"] == 0 and report["duplicates"] == 0 and report["indexing"] == 0
    assert report["live"] == report["vectors"]  # no orphans, nothing missing
