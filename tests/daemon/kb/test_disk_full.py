"""A full disk pauses indexing and says why; freed space resumes it; rebuild really rebuilds.

COVE_HOME goes on a small tmpfs the test mounts (root only: elsewhere the tests skip with the
reason), then a filler file takes all but a sliver of it, so indexing fills it in seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from cove.daemon.ingest.diskspace import MB, RETRY_FIRST_S, DiskSpace, out_of_space
from cove.index.vectors import open_persistent_store
from tests.support.daemon import start_daemon
from tests.support.kb import consistency, index_status, search, wait_for, wait_idle, write

pytestmark = pytest.mark.slow  # real daemon processes (make test-fast skips them)

DISK_MB = 16
CORPUS = 48  # files of three chunks or so: more than the sliver left free can hold


def mount_tmpfs(where: Path, megabytes: int) -> None:
    """A tmpfs of `megabytes` at `where`, or skip the test saying why it cannot be."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CAP_SYS_ADMIN); this test runs as a user")
    if shutil.which("mount") is None or shutil.which("umount") is None:
        pytest.skip("no mount/umount command here")
    where.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")


def unmount(where: Path) -> None:
    for _ in range(50):  # a daemon just stopped may hold its files a moment longer
        if subprocess.run(["umount", str(where)], capture_output=True).returncode == 0:
            return
        time.sleep(0.1)
    subprocess.run(["umount", "-l", str(where)], check=True)


@pytest.fixture
def small_disk(tmp_path):
    where = tmp_path / "disk"
    mount_tmpfs(where, DISK_MB)
    try:
        yield where
    finally:
        unmount(where)


def fill(filler: Path, leave: int) -> None:
    """Take all the free space on `filler`'s disk but `leave` bytes."""
    free = shutil.disk_usage(filler.parent).free
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(0, free - leave))


def test_a_full_disk_pauses_indexing_says_why_and_resumes_when_space_returns(tmp_path, small_disk):
    home = small_disk / "home"
    seed = write(tmp_path / "seed" / "vault.md", "The seed vault keeps four hundred beans.\n")
    corpus = tmp_path / "corpus"
    for n in range(CORPUS):
        write(
            corpus / f"log{n:02}.md",
            f"# Log {n}\n\n" + f"Entry {n} of the lighthouse keeper's log, lamp {n % 5}. " * 50,
        )
    daemon = start_daemon(home, config="[index]\nmin_free_mb = 0.5\n")
    try:
        assert daemon.cove("folders", "add", str(seed.parent)).returncode == 0
        wait_idle(daemon)
        filler = small_disk / "filler"
        fill(filler, leave=int(1.5 * MB))
        assert daemon.cove("folders", "add", str(corpus)).returncode == 0

        full = wait_for(lambda: (s := index_status(daemon))["paused_reason"] and s, 60, "the pause")
        assert full["paused"] is True and full["state"] != "idle"
        assert full["paused_reason"].startswith("no space left on device")
        assert full["files"] < 1 + CORPUS
        # The daemon still answers: its status, the errors, and search (keywords at least).
        doc = json.loads(daemon.cove("status", "--json").stdout)
        assert doc["index"]["paused_reason"].startswith("no space left on device")
        errors = daemon.cove("index", "errors", "--json")
        assert errors.returncode == 0
        assert json.loads(errors.stdout)["paused_reason"].startswith("no space left")
        assert "indexing paused: no space left" in daemon.cove("index", "errors").stdout
        assert search(daemon, "seed vault beans")[0]["path"] == str(seed.resolve())
        # Nothing can be rebuilt now, and the rebuild says so rather than report success.
        rebuild = daemon.cove("index", "rebuild", "--json")
        assert rebuild.returncode == 1
        assert json.loads(rebuild.stdout)["error"]["code"] == "no_space"
        assert "no space left on device" in rebuild.stderr

        # Writes the user asks for meanwhile are refused with the reason, and leave nothing
        # half-written (the sliver indexing left is taken first, so the write must fail).
        fill(small_disk / "filler-2", leave=0)
        taught = daemon.cove("teach", "Where is the seed vault?", "Svalbard" * 2000, "--json")
        assert taught.returncode == 1, taught.stdout
        assert json.loads(taught.stdout)["error"]["code"] == "no_space"
        assert "no space left on device" in taught.stderr
        teach_file = home / "teach" / "cove-teach.jsonl"
        assert not teach_file.exists() or teach_file.read_text() == ""
        (small_disk / "filler-2").unlink()

        filler.unlink()  # indexing resumes by itself
        done = wait_idle(daemon, timeout=120)
        assert done["files"] == 1 + CORPUS and done["failed"] == 0
        assert done["paused"] is False and done["paused_reason"] is None
        assert daemon.cove("index", "rescan").returncode == 0
        again = wait_idle(daemon)
        assert again["files"] == done["files"] and again["chunks"] == done["chunks"]
        hit = search(daemon, "Entry 41 of the lighthouse keeper's log lamp 1")[0]
        assert hit["path"].endswith("log41.md") and hit["scores"]["dense"] is not None
    finally:
        daemon.stop()
    report = consistency(home)
    assert report["indexing"] == 0 and report["stale"] == 0 and report["duplicates"] == 0
    assert report["live"] == report["vectors"]  # no orphan vectors, none missing


def test_rebuild_makes_a_fresh_collection_and_the_start_up_repair_rebuilds_a_damaged_one(tmp_path):
    home = tmp_path / "home"
    folder = tmp_path / "notes"
    for n, text in enumerate(
        [
            "The granary stores barley and rye through the winter.",
            "The mill wheel turns on the east stream.",
            "The dovecote houses forty pigeons.",
        ]
    ):
        write(folder / f"note{n}.md", text + "\n")
    daemon = start_daemon(home)
    try:
        assert daemon.cove("folders", "add", str(folder)).returncode == 0
        indexed = wait_idle(daemon)
        rebuild = daemon.cove("index", "rebuild", "--json")
        assert rebuild.returncode == 0, rebuild.stderr
        rebuilt = json.loads(rebuild.stdout)["rebuilt"]
        assert rebuilt == {"vectors": indexed["chunks"], "embedded": 0}  # from the cache
        hit = search(daemon, "mill wheel east stream")[0]
        assert hit["path"].endswith("note1.md") and hit["scores"]["dense"] is not None
    finally:
        daemon.stop()

    # Damage Chroma while the daemon is down: its collection loses its vector segment, so
    # every read fails. The start-up repair finds it and rebuilds from cove.db.
    chroma = sqlite3.connect(home / "chroma" / "chroma.sqlite3")
    with chroma:
        chroma.execute("DELETE FROM segments WHERE scope = 'VECTOR'")
    chroma.close()
    daemon.start()
    try:
        restored = wait_idle(daemon)
        assert restored["embedded_total"] == 0  # every vector came from the cache
        hit = search(daemon, "forty pigeons in the dovecote")[0]
        assert hit["path"].endswith("note2.md") and hit["scores"]["dense"] is not None
    finally:
        daemon.stop()
    report = consistency(home)
    assert report["live"] == report["vectors"] and report["stale"] == 0
    log = (home / "logs" / "cove.log").read_text()
    assert "the vector store is damaged; rebuilding it from cove.db" in log
    assert "rebuilt the vector store: 3 vectors, 0 embedded again" in log


def test_a_collection_that_cannot_search_is_found_and_reset(tmp_path):
    """Lost HNSW files: Chroma still counts the vectors but cannot search them all. (Files
    overwritten with noise are not tried: hnswlib follows their links and may crash.)"""
    path = tmp_path / "chroma"
    store = open_persistent_store(path, "cove-test-8")
    vectors = np.random.default_rng(0).standard_normal((2000, 8)).astype(np.float32)
    store.add(list(range(2000)), vectors, [1] * 2000)
    store.verify()
    store.client.close()
    segments = [entry for entry in path.iterdir() if entry.is_dir()]
    assert segments
    for segment in segments:
        shutil.rmtree(segment)
    damaged = open_persistent_store(path, "cove-test-8")
    # Chroma's own error, or ours when it answers with fewer neighbours than it counts.
    with pytest.raises(Exception, match="Error finding id|the vector store is damaged"):
        damaged.verify()
    damaged.reset()  # what a rebuild starts with
    damaged.add([1, 2], vectors[:2], [1, 1])
    damaged.verify()
    assert damaged.ids() == {1, 2}
    damaged.client.close()


def test_a_store_chroma_cannot_open_is_replaced_by_an_empty_one(tmp_path):
    path = tmp_path / "chroma"
    store = open_persistent_store(path, "cove-test-4")
    store.add([1, 2], np.eye(2, 4, dtype=np.float32), [1, 1])
    store.client.close()
    (path / "chroma.sqlite3").write_bytes(os.urandom(100_000))
    fresh = open_persistent_store(path, "cove-test-4")
    assert fresh.count() == 0
    fresh.add([3], np.eye(1, 4, dtype=np.float32), [1])
    assert fresh.ids() == {3}
    fresh.client.close()


def test_a_collection_chroma_cannot_drop_is_rebuilt_in_a_fresh_store(tmp_path):
    path = tmp_path / "chroma"
    store = open_persistent_store(path, "cove-test-4")
    store.add([1, 2], np.eye(2, 4, dtype=np.float32), [1, 1])
    store.client.close()
    chroma = sqlite3.connect(path / "chroma.sqlite3")
    with chroma:
        chroma.execute("DROP TABLE segments")
    chroma.close()
    damaged = open_persistent_store(path, "cove-test-4")
    with pytest.raises(Exception, match="segments"):
        damaged.count()
    damaged.reset()  # delete_collection fails too: the whole store is replaced
    damaged.add([3], np.eye(1, 4, dtype=np.float32), [1])
    assert damaged.ids() == {3}
    damaged.client.close()


def test_writes_the_disk_refused_are_recognised(small_disk):
    db = sqlite3.connect(small_disk / "full.db")
    db.execute("CREATE TABLE t (x BLOB)")
    with pytest.raises(sqlite3.OperationalError) as full:
        for _ in range(DISK_MB * 2):
            db.execute("INSERT INTO t VALUES (?)", [b"\0" * MB])
    db.close()
    assert out_of_space(full.value)
    with pytest.raises(OSError) as refused:
        (small_disk / "more").write_bytes(b"\0" * MB)
    assert out_of_space(refused.value)
    assert not out_of_space(sqlite3.OperationalError("database is locked"))
    # Chroma's own words for it carry no errno: a failure below the reserve counts too.
    space = DiskSpace(small_disk, min_free_mb=1)
    assert space.explains(RuntimeError("Failed to apply logs to the hnsw segment writer"))


def test_the_pause_lifts_once_space_returns_or_after_a_backoff():
    free, now = [50 * MB], [0.0]
    space = DiskSpace(Path("/"), 10, free_bytes=lambda _: free[0], clock=lambda: now[0])
    assert space.check() is None
    free[0] = 5 * MB  # below the reserve
    assert space.check().startswith("no space left on device: 5.0 MB free")
    free[0] = 20 * MB
    assert space.check() is None

    assert space.failed(OSError(28, "No space left on device")) is not None
    assert space.check() is not None  # the reserve is free, but no more than at the failure
    free[0] = 31 * MB  # 20 + the reserve: room for what failed
    assert space.check() is None

    space.failed(OSError(28, "No space left on device"))  # e.g. another disk was full
    now[0] += 2 * RETRY_FIRST_S + 1  # a second failure in a row waits twice as long
    assert space.check() is None
    assert space.failed(ValueError("a bug, with plenty of space")) is None
