"""COVE_HOME layout and the API token file."""

from __future__ import annotations

import json
import os

import pytest

from cove.daemon.paths import (
    CovePaths,
    ensure_token,
    open_to_others,
    private_umask,
    tighten_home,
)
from tests.support.daemon import RunningDaemon, cove_env, free_port, run_cove


def test_token_is_created_private_and_stable(tmp_path):
    path = tmp_path / "token"
    first = ensure_token(path)
    assert len(first) >= 32
    assert path.stat().st_mode & 0o777 == 0o600
    assert ensure_token(path) == first


def test_loose_token_permissions_are_tightened(tmp_path):
    path = tmp_path / "token"
    ensure_token(path)
    path.chmod(0o644)
    ensure_token(path)
    assert path.stat().st_mode & 0o777 == 0o600


def test_ensure_creates_the_layout(tmp_path):
    paths = CovePaths(tmp_path / "home")
    paths.ensure()
    for sub in ("chroma", "logs", "adapters", "models"):
        assert (tmp_path / "home" / sub).is_dir()


def mode(path) -> int:
    return path.lstat().st_mode & 0o777


def test_private_umask_makes_new_files_and_folders_private(tmp_path):
    before = os.umask(0o022)
    try:
        private_umask()
        (tmp_path / "dir").mkdir()
        (tmp_path / "dir" / "file").write_text("x")
    finally:
        os.umask(before)
    assert mode(tmp_path / "dir") == 0o700
    assert mode(tmp_path / "dir" / "file") == 0o600


def loose_home(tmp_path):
    """A home made by hand (0755) with a 0644 file, a 0755 folder, and symlinks out of it."""
    home = tmp_path / "home"
    (home / "logs").mkdir(parents=True)
    (home / "cove.db").write_text("")  # an empty SQLite database, as an old Cove left it
    (home / "logs" / "cove.log").write_text("log")
    (home / "secret").write_text("mine")
    outside = tmp_path / "watched"
    outside.mkdir()
    (outside / "notes.md").write_text("notes")
    (home / "link-to-folder").symlink_to(outside)
    (home / "link-to-file").symlink_to(outside / "notes.md")
    for path, bits in ((home, 0o755), (home / "logs", 0o755), (outside, 0o755)):
        path.chmod(bits)
    for path in (home / "cove.db", home / "logs" / "cove.log", outside / "notes.md"):
        path.chmod(0o644)
    (home / "secret").chmod(0o600)
    return home, outside


def test_open_to_others_lists_home_and_what_is_under_it_but_not_symlinks(tmp_path):
    home, _ = loose_home(tmp_path)
    found = {path.name: bits for path, bits in open_to_others(home)}
    assert found == {"home": 0o755, "logs": 0o755, "cove.db": 0o644, "cove.log": 0o644}


def test_tighten_home_takes_group_and_other_away_and_never_follows_symlinks(tmp_path):
    home, outside = loose_home(tmp_path)
    changed, failed = tighten_home(home)
    assert failed == []
    assert {path.name for path in changed} == {"home", "logs", "cove.db", "cove.log"}
    assert open_to_others(home) == []
    assert mode(home) == 0o700 and mode(home / "cove.db") == 0o600
    assert mode(home / "secret") == 0o600  # already private: left as it was
    # A watched folder reached through a symlink is not Cove's to change.
    assert mode(outside) == 0o755 and mode(outside / "notes.md") == 0o644
    assert tighten_home(home) == ([], [])


@pytest.mark.slow  # a real daemon
def test_a_home_cove_teach_creates_stays_private_after_the_daemon_starts(tmp_path):
    home = tmp_path / "home"
    port = free_port()
    env = cove_env(home, port)
    taught = run_cove("teach", "What is my cat called?", "Your cat is called Pixel.", env=env)
    assert taught.returncode == 0, taught.stderr
    assert mode(home) == 0o700
    assert mode(home / "teach" / "cove-teach.jsonl") == 0o600
    daemon = RunningDaemon(home, port, env).start()
    try:
        for name in ("cove.db", "cove.db-wal", "cove.db-shm", "chroma", "logs/cove.log"):
            assert (home / name).exists(), name
        assert open_to_others(home) == []
    finally:
        daemon.stop()


@pytest.mark.slow  # a real daemon
def test_a_loose_home_is_reported_then_made_private_when_the_daemon_starts(tmp_path):
    home, outside = loose_home(tmp_path)
    port = free_port()
    daemon = RunningDaemon(home, port, cove_env(home, port))
    before = run_cove("doctor", "--json", env=daemon.env)
    assert before.returncode == 1
    check = {c["name"]: c for c in json.loads(before.stdout)["checks"]}["private"]
    assert not check["ok"]
    assert "COVE_HOME 0755" in check["detail"] and "4 item(s)" in check["detail"]
    assert check["fix"].startswith(f"chmod -R go-rwx {home}")
    daemon.start()
    try:
        assert open_to_others(home) == []
        assert mode(outside) == 0o755 and mode(outside / "notes.md") == 0o644
        log = (home / "logs" / "cove.log").read_text()
        [line] = [line for line in log.splitlines() if "private to you" in line]
        assert f"made 4 item(s) of {home} private to you" in line
        assert all(name in line for name in ("COVE_HOME", "logs", "cove.db", "logs/cove.log"))
        after = daemon.cove("doctor", "--json")
        assert after.returncode == 0, after.stdout
        check = {c["name"]: c for c in json.loads(after.stdout)["checks"]}["private"]
        assert check["ok"], check
    finally:
        daemon.stop()
