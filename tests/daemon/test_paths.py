"""COVE_HOME layout and the API token file."""

from __future__ import annotations

from cove.daemon.paths import CovePaths, ensure_token


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
