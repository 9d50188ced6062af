"""Files are served only if indexed and their real path lies under a watched folder."""

from __future__ import annotations

import os

import pytest

from cove.daemon.client import ApiError
from tests.support.daemon import start_daemon
from tests.support.kb import wait_idle, write

pytestmark = pytest.mark.slow  # real daemon processes (make test-fast skips them)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    docs = root / "docs"
    write(docs / "notes.md", "# Notes\n\nline three\nline four\nline five\n")
    write(docs / ".hidden.md", "hidden\n")
    write(docs / "drafts" / "wip.md", "draft\n")
    write(docs / ".coveignore", "drafts/\n")
    (docs / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    outside = write(root / "outside.txt", "secret outside the folder\n")
    os.symlink(outside, docs / "escape.md")
    os.symlink(docs / "notes.md", docs / "alias.md")
    daemon = start_daemon(root / "home")
    try:
        added = daemon.cove("folders", "add", str(docs))
        assert added.returncode == 0, added.stderr
        wait_idle(daemon)
        yield daemon, docs, outside
    finally:
        daemon.stop()


def read(daemon, path, **lines) -> dict:
    with daemon.client() as client:
        return client.read_file(str(path), **lines)


def refused(daemon, path) -> ApiError:
    with pytest.raises(ApiError) as error:
        read(daemon, path)
    return error.value


def test_an_indexed_file_is_served_by_line_range(served):
    daemon, docs, _ = served
    part = read(daemon, docs / "notes.md", start_line=3, end_line=4)
    assert part == {
        "path": str(docs / "notes.md"),
        "start_line": 3,
        "end_line": 4,
        "total_lines": 5,
        "text": "line three\nline four",
    }
    assert read(daemon, docs / "notes.md")["text"].startswith("# Notes\n")


def test_a_symlink_to_a_file_of_the_folder_serves_that_file(served):
    daemon, docs, _ = served
    assert read(daemon, docs / "alias.md")["path"] == str(docs / "notes.md")


@pytest.mark.parametrize(
    "name", ["escape.md", ".hidden.md", "drafts/wip.md", "image.png", "missing.md"]
)
def test_ignored_skipped_missing_and_escaping_files_are_refused(served, name):
    daemon, docs, _ = served
    error = refused(daemon, docs / name)
    assert error.status == 403 and "not an indexed file in a watched folder" in str(error)


def test_nothing_outside_the_watched_folders_is_served(served):
    daemon, docs, outside = served
    for path in (outside, docs / ".." / "outside.txt", "/etc/passwd", daemon.home / "token"):
        assert refused(daemon, path).status == 403
    assert refused(daemon, "notes.md").status == 403  # relative paths are refused too


def test_a_range_outside_the_file_is_a_clear_400(served):
    daemon, docs, _ = served
    with pytest.raises(ApiError) as error:
        read(daemon, docs / "notes.md", start_line=50)
    assert error.value.status == 400 and "outside the file (1-5)" in str(error.value)
