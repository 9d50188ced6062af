"""A hostile folder costs only its bad entries: names that are not UTF-8, zip bombs, FIFOs.

Every name the OS can hold is indexed and shown escaped (an undecodable byte as `\\xHH`,
see cove.index.pathnames); a file that would unpack past the loader's memory cap fails as
"too large when unpacked"; a FIFO is recorded as skipped and never opened.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import zipfile

import pytest

from tests.support.daemon import start_daemon
from tests.support.kb import index_status, paths_found, search, wait_for, wait_idle, write

pytestmark = pytest.mark.slow  # a real daemon process (make test-fast skips it)

# One word per ordinary note, each found only in its own note.
# fmt: off
WORDS = (
    "anchovy", "bassoon", "cactus", "dolphin", "easel", "falcon", "glacier", "harpoon",
    "igloo", "jasmine", "kettle", "lantern", "meteor", "nutmeg", "orchid", "pelican",
    "quartz", "radish", "saddle", "tulip", "umbrella", "violin", "walrus", "yodel",
)
# fmt: on
ODD = b"caf\xe9.md"  # Latin-1 bytes: legal on Linux, not UTF-8
LITERAL = "caf\\xe9.md"  # a name really spelled with a backslash
MEMORY_MB = 256  # the loader's cap, low so that the bombs stay small and quick


def make_docx(text: str) -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    data = io.BytesIO()
    document.save(data)
    return data.getvalue()


def docx_bomb(write_body) -> bytes:
    """A real DOCX whose word/document.xml is whatever `write_body` streams into it."""
    source = zipfile.ZipFile(io.BytesIO(make_docx("placeholder")))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for info in source.infolist():
            if info.filename == "word/document.xml":
                with bomb.open(info.filename, "w", force_zip64=True) as body:
                    write_body(body)
            else:
                bomb.writestr(info, source.read(info))
    return out.getvalue()


def zeros(body) -> None:
    """300 MiB of zeros: its declared size alone is past the cap."""
    block = b"\0" * (1 << 20)
    for _ in range(300):
        body.write(block)


def empty_paragraphs(body) -> None:
    """60 MB of `<w:p/>`: within the cap as bytes, far past it as parsed XML nodes."""
    body.write(
        b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
        b'wordprocessingml/2006/main"><w:body>'
    )
    block = b"<w:p/>" * 100_000
    for _ in range(100):
        body.write(block)
    body.write(b"</w:body></w:document>")


def make_odd(path: bytes, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    folder = (root / "notes").resolve()
    for number, word in enumerate(WORDS):
        write(folder / f"note-{number:02}.md", f"# Note {number}\n\nThe {word} inventory.\n")
    make_odd(os.fsencode(folder) + b"/" + ODD, "# Odd\n\nThe zeppelin timetable.\n")
    write(folder / LITERAL, "# Literal\n\nThe marmalade recipe.\n")
    (folder / "minutes.docx").write_bytes(make_docx("The copper weathervane was approved."))
    (folder / "bomb.docx").write_bytes(docx_bomb(zeros))
    (folder / "nodes.docx").write_bytes(docx_bomb(empty_paragraphs))
    os.mkfifo(folder / "notes.md")
    config = f"[index]\nloader_memory_mb = {MEMORY_MB}\n"
    daemon = start_daemon(root / "home", config=config)
    try:
        added = daemon.cove("folders", "add", str(folder), "--json")
        assert added.returncode == 0, added.stderr
        wait_idle(daemon)
        yield daemon, folder
    finally:
        daemon.stop()


def errors(daemon) -> dict[str, str]:
    done = daemon.cove("index", "errors", "--json")
    assert done.returncode == 0, done.stderr
    return {os.path.basename(r["path"]): r["error"] for r in json.loads(done.stdout)["failed"]}


def manifest_row(daemon, path: str) -> dict:
    db = sqlite3.connect(f"file:{daemon.home / 'cove.db'}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        row = db.execute("SELECT status, error FROM files WHERE path = ?", [path]).fetchone()
    finally:
        db.close()
    assert row is not None, f"{path} is not in the manifest"
    return dict(row)


def test_a_name_with_invalid_bytes_stops_none_of_its_neighbours(hostile):
    daemon, folder = hostile
    for number, word in enumerate(WORDS):
        assert str(folder / f"note-{number:02}.md") in paths_found(daemon, word, k=3), word
    assert set(errors(daemon)) == {"bomb.docx", "nodes.docx"}


def test_the_odd_name_is_indexed_and_shown_escaped(hostile):
    daemon, folder = hostile
    shown = f"{folder}/caf\\xe9.md"
    assert paths_found(daemon, "zeppelin timetable", k=1) == [shown]
    # The name really spelled `caf\xe9.md` is another file, shown with its backslash doubled.
    assert paths_found(daemon, "marmalade recipe", k=1) == [f"{folder}/caf\\\\xe9.md"]
    cli = daemon.cove("search", "zeppelin timetable", "-k", "1", "--json")
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["results"][0]["path"] == shown
    with daemon.client() as client:  # the shown path is the one to read it by
        assert "zeppelin" in client.read_file(shown)["text"]


def test_a_file_that_would_unpack_past_the_memory_cap_fails_alone(hostile):
    daemon, folder = hostile
    failed = errors(daemon)
    assert failed["bomb.docx"] == "too large when unpacked"  # declared size past the cap
    assert failed["nodes.docx"] == "too large when unpacked"  # the parse hit the cap
    assert paths_found(daemon, "copper weathervane", k=1) == [str(folder / "minutes.docx")]


def test_a_fifo_is_skipped_and_never_opened(hostile):
    daemon, folder = hostile
    row = manifest_row(daemon, str(folder / "notes.md"))
    assert (row["status"], row["error"]) == ("skipped", "not a regular file")
    assert index_status(daemon)["state"] == "idle"  # nothing is stuck opening it


def test_a_rescan_changes_nothing(hostile):
    daemon, folder = hostile
    before = wait_idle(daemon)
    assert daemon.cove("index", "rescan").returncode == 0
    after = wait_idle(daemon)
    keys = ("files", "chunks", "failed", "skipped", "embedded_total", "ingests_total")
    assert {k: after[k] for k in keys} == {k: before[k] for k in keys}
    assert paths_found(daemon, "zeppelin timetable", k=1) == [f"{folder}/caf\\xe9.md"]


def test_an_odd_name_created_while_watched_is_indexed(hostile):
    daemon, folder = hostile
    before = index_status(daemon)["ingests_total"]
    make_odd(os.fsencode(folder) + b"/na\xefve.md", "# Later\n\nThe xylophone repairs.\n")
    wait_for(lambda: index_status(daemon)["ingests_total"] > before, 30, "the new file")
    wait_idle(daemon)
    hits = search(daemon, "xylophone repairs", k=1)
    assert hits[0]["path"] == f"{folder}/na\\xefve.md"


def test_an_odd_name_is_renamed_and_deleted_like_any_other(hostile):
    daemon, folder = hostile
    old, new = os.fsencode(folder) + b"/gr\xfcn.md", os.fsencode(folder) + b"/gr\xfcn-2.md"
    make_odd(old, "# Green\n\nThe quokka census.\n")
    wait_for(lambda: paths_found(daemon, "quokka census", k=1), 30, "the new file")
    before = wait_idle(daemon)
    os.rename(old, new)
    renamed = f"{folder}/gr\\xfcn-2.md"

    def found() -> list[str]:
        return paths_found(daemon, "quokka census", k=3)

    wait_for(lambda: found()[:1] == [renamed], 30, "the renamed path")
    assert f"{folder}/gr\\xfcn.md" not in found()
    assert wait_idle(daemon)["embedded_total"] == before["embedded_total"]  # kept its vectors
    os.unlink(new)
    wait_for(lambda: renamed not in found(), 30, "the deletion")
