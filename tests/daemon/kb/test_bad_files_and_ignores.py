"""Bad input is recorded, reported and skipped; no other file suffers. Ignore rules hold."""

from __future__ import annotations

import json
import os

import pytest

from tests.support.daemon import start_daemon, without_root_file_access
from tests.support.kb import index_status, paths_found, wait_idle, write

pytestmark = pytest.mark.slow  # real daemon processes (make test-fast skips them)


def make_docx(path, text: str) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Minutes", level=1)
    document.add_paragraph(text)
    document.save(path)


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    root = tmp_path_factory.mktemp("messy")
    folder = root / "docs"
    write(folder / "good.md", "# Good\n\nThe good file mentions a saffron lantern.\n")
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage")
    (folder / "corrupt.docx").write_bytes(b"PK\x03\x04 this is not really a zip archive")
    (folder / "binary.md").write_bytes(bytes(range(256)) * 20)
    (folder / "empty.txt").write_bytes(b"")
    (folder / "latin1.txt").write_bytes(
        "Le café du marché ouvre à l'aube, près du phare.".encode("latin-1")
    )
    (folder / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 100)
    os.symlink(folder / "loop-b", folder / "loop-a")
    os.symlink(folder / "loop-a", folder / "loop-b")
    make_docx(folder / "minutes.docx", "The committee approved the copper weathervane.")
    write(folder / "node_modules" / "lib" / "readme.md", "zebra crossing vendor file\n")
    write(folder / ".secret.md", "zebra crossing hidden file\n")
    write(folder / "build.log", "zebra crossing log file\n")
    write(folder / "drafts" / "wip.md", "zebra crossing draft\n")
    write(folder / ".gitignore", "*.log\n")
    write(folder / ".coveignore", "drafts/\n")
    write(folder / "venv2" / "pyvenv.cfg", "home = /usr\n")
    write(folder / "venv2" / "lib" / "mod.md", "zebra crossing venv file\n")
    write(folder / "private" / "skip.md", "zebra crossing private\n")
    write(folder / "visible.md", "zebra crossing visible file\n")
    # Root reads chmod 000 files; the daemon runs without that privilege where possible.
    prefix = without_root_file_access()
    if prefix:
        locked = write(folder / "locked.md", "locked away\n")
        locked.chmod(0o000)
    daemon = start_daemon(root / "home", prefix=prefix or ())
    try:
        added = daemon.cove("folders", "add", str(folder), "--ignore", "private/**", "--json")
        assert added.returncode == 0, added.stderr
        wait_idle(daemon)
        yield daemon, folder
    finally:
        daemon.stop()


def errors(daemon) -> dict[str, str]:
    done = daemon.cove("index", "errors", "--json")
    assert done.returncode == 0, done.stderr
    return {os.path.basename(r["path"]): r["error"] for r in json.loads(done.stdout)["failed"]}


def test_failures_are_listed_with_a_reason(messy):
    daemon, folder = messy
    failed = errors(daemon)
    expected = {"corrupt.pdf", "corrupt.docx", "loop-a", "loop-b"}
    if (folder / "locked.md").exists():
        expected.add("locked.md")
        assert failed["locked.md"] == "permission denied"
    assert set(failed) == expected
    assert "pdf" in failed["corrupt.pdf"].lower()
    assert "docx" in failed["corrupt.docx"].lower() or "zip" in failed["corrupt.docx"].lower()
    assert failed["loop-a"] == "symlink loop"
    human = daemon.cove("index", "errors")
    assert "corrupt.pdf: " in human.stdout


def test_good_files_are_indexed_despite_bad_neighbours(messy):
    daemon, folder = messy
    assert paths_found(daemon, "saffron lantern")[0] == str((folder / "good.md").resolve())
    assert paths_found(daemon, "copper weathervane")[0].endswith("minutes.docx")


def test_legacy_encodings_are_decoded_and_indexed(messy):
    daemon, _ = messy
    hits = [h for h in (paths_found(daemon, "café du marché phare")) if "latin1" in h]
    assert hits


def test_binary_and_unknown_files_are_skipped_not_failed(messy):
    daemon, _ = messy
    status = index_status(daemon)
    assert status["skipped"] >= 2  # binary.md, image.png
    assert "binary.md" not in errors(daemon) and "image.png" not in errors(daemon)


def test_an_empty_file_is_fine(messy):
    daemon, _ = messy
    assert "empty.txt" not in errors(daemon)
    assert daemon.cove("status").returncode == 0


def test_ignore_rules(messy):
    daemon, folder = messy
    found = paths_found(daemon, "zebra crossing", k=30)
    assert found[0] == str((folder / "visible.md").resolve())
    for ignored in [
        "node_modules/lib/readme.md",
        ".secret.md",
        "build.log",
        "drafts/wip.md",
        "venv2/lib/mod.md",
        "private/skip.md",
    ]:
        assert str((folder / ignored).resolve()) not in found, ignored


def test_permission_denied_needs_a_daemon_without_root_file_access(messy):
    _, folder = messy
    if not (folder / "locked.md").exists():
        pytest.skip("setpriv cannot drop CAP_DAC_OVERRIDE here, and root reads chmod 000 files")


def test_the_daemon_keeps_running(messy):
    daemon, folder = messy
    doc = json.loads(daemon.cove("status", "--json").stdout)
    expected = 5 if (folder / "locked.md").exists() else 4
    assert doc["index"]["state"] == "idle" and doc["index"]["failed"] == expected
