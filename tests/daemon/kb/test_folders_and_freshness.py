"""A watched folder stays in step with the index: add, edit, delete, rename, bursts, rescans.

One real daemon for the module; every test uses its own files and names, and counters
(`embedded_total`, `ingests_total`) rather than timings prove what was (not) done.
"""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from tests.support.daemon import start_daemon
from tests.support.kb import (
    index_status,
    paths_found,
    search,
    wait_for,
    wait_idle,
    wait_ingests,
    write,
)

pytestmark = pytest.mark.slow  # real daemon processes (make test-fast skips them)

LIGHTHOUSE = """# Keepers

## The lighthouse at Gull Point

The lighthouse at Gull Point was kept by Marta Oyelaran from 1921 until 1958. She
trimmed the wicks every night and logged every passing ship in a leather ledger.

## Supplies

Oil and bread arrived by boat every second Tuesday, weather allowing.
"""


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    root = tmp_path_factory.mktemp("kb")
    folder = root / "notes"
    write(folder / "lighthouse.md", LIGHTHOUSE)
    write(folder / "garden.txt", "The quince tree by the north wall fruits in October.\n")
    daemon = start_daemon(root / "home")
    try:
        added = daemon.cove("folders", "add", str(folder), "--json")
        assert added.returncode == 0, added.stderr
        wait_idle(daemon)
        yield daemon, folder
    finally:
        daemon.stop()


def test_folders_add_returns_at_once_and_files_become_searchable(kb):
    daemon, folder = kb
    hits = search(daemon, "who kept the Gull Point lighthouse")
    assert hits[0]["path"] == str((folder / "lighthouse.md").resolve())
    assert hits[0]["heading"] == ["Keepers", "The lighthouse at Gull Point"]
    assert hits[0]["line_start"] >= 3 and hits[0]["line_end"] >= hits[0]["line_start"]
    assert set(hits[0]["scores"]) == {"dense", "bm25", "fused", "rerank"}
    listed = json.loads(daemon.cove("folders", "list", "--json").stdout)["folders"]
    assert [f["path"] for f in listed] == [str(folder.resolve())]
    assert listed[0]["files"] == 2


def test_search_json_shape(kb):
    daemon, _ = kb
    done = daemon.cove("search", "quince tree", "-k", "3", "--json")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert list(doc) == ["query", "results"]
    first = doc["results"][0]
    assert list(first) == [
        "rank",
        "path",
        "heading",
        "page",
        "line_start",
        "line_end",
        "text",
        "scores",
        "snippet",
    ]
    assert first["rank"] == 1 and first["path"].endswith("garden.txt")
    assert len(doc["results"]) <= 3


def test_an_edit_is_found_and_the_old_text_is_gone(kb):
    daemon, folder = kb
    note = write(folder / "ferry.md", "The ferry to Skerry Island leaves at seven.\n")
    wait_for(
        lambda: str(note.resolve()) in paths_found(daemon, "ferry Skerry Island"),
        what="new file indexed",
    )
    write(note, "The hovercraft to Skerry Island leaves at nine.\n")
    wait_for(
        lambda: "hovercraft" in search(daemon, "hovercraft Skerry")[0]["text"], what="edit indexed"
    )
    texts = [h["text"] for h in search(daemon, "ferry seven Skerry", k=20)]
    assert not any("ferry" in t for t in texts)


def test_a_deleted_file_is_gone(kb):
    daemon, folder = kb
    note = write(folder / "kiln.md", "The pottery kiln fires at 1280 degrees.\n")
    wait_for(lambda: str(note.resolve()) in paths_found(daemon, "pottery kiln"), what="indexed")
    note.unlink()
    wait_for(
        lambda: str(note.resolve()) not in paths_found(daemon, "pottery kiln", k=20),
        what="deleted file gone",
    )
    assert all(h["path"] != str(note.resolve()) for h in search(daemon, "kiln 1280", k=50))


def test_a_rename_keeps_its_embeddings(kb):
    daemon, folder = kb
    old = write(folder / "orchard.md", "Seventeen apple trees grow in the walled orchard.\n")
    wait_for(
        lambda: str(old.resolve()) in paths_found(daemon, "walled orchard apple"), what="indexed"
    )
    before = wait_idle(daemon)
    new = folder / "renamed" / "orchard-notes.md"
    new.parent.mkdir()
    wait_idle(daemon)
    os.rename(old, new)
    wait_for(
        lambda: str(new.resolve()) in paths_found(daemon, "walled orchard apple"),
        what="found under the new path",
    )
    after = wait_idle(daemon)
    assert str(old.resolve()) not in paths_found(daemon, "walled orchard apple", k=20)
    assert after["embedded_total"] == before["embedded_total"]
    assert after["ingests_total"] == before["ingests_total"]


def test_a_burst_of_saves_is_one_ingest(kb):
    daemon, folder = kb
    note = write(folder / "burst.md", "draft 0 of the harbour timetable\n")
    before = wait_ingests(daemon, index_status(daemon)["ingests_total"] + 1)
    for n in range(1, 11):
        write(note, f"draft {n} of the harbour timetable\n")
        time.sleep(0.01)
    after = wait_ingests(daemon, before["ingests_total"] + 1)
    time.sleep(1.0)
    assert (
        wait_idle(daemon)["ingests_total"] == before["ingests_total"] + 1 == after["ingests_total"]
    )
    assert "draft 10" in search(daemon, "harbour timetable")[0]["text"]


def test_an_unchanged_rescan_embeds_and_ingests_nothing(kb):
    daemon, _ = kb
    before = wait_idle(daemon)
    assert daemon.cove("index", "rescan").returncode == 0
    after = wait_idle(daemon)
    assert (after["embedded_total"], after["ingests_total"]) == (
        before["embedded_total"],
        before["ingests_total"],
    )


def test_a_changed_file_embeds_only_its_changed_chunks(kb):
    daemon, folder = kb
    sections = [
        f"## Section {n}\n\n" + f"Paragraph {n} about tide tables and moorings. " * 30
        for n in range(6)
    ]
    note = write(folder / "tides.md", "# Tides\n\n" + "\n\n".join(sections))
    before = wait_ingests(daemon, index_status(daemon)["ingests_total"] + 1)
    chunks = before["chunks"]
    sections[2] = "## Section 2\n\nA single new sentence about the spring tide.\n"
    write(note, "# Tides\n\n" + "\n\n".join(sections))
    after = wait_ingests(daemon, before["ingests_total"] + 1)
    assert 1 <= after["embedded_total"] - before["embedded_total"] <= 2
    assert after["chunks"] < chunks


def test_new_subfolders_are_watched(kb):
    daemon, folder = kb
    deep = folder / "a" / "b" / "c"
    deep.mkdir(parents=True)
    note = write(deep / "deep.md", "The bell tower has eleven bells.\n")
    wait_for(
        lambda: str(note.resolve()) in paths_found(daemon, "bell tower eleven bells"),
        what="file in a new subfolder indexed",
    )


def test_searching_during_reindexing_never_mixes_versions_nor_finds_none(kb):
    daemon, folder = kb
    paragraph = "Version {v}: the signal station log records gales, fog and calm. " * 12
    note = folder / "signals.md"
    write(note, "\n\n".join(f"## Part {p}\n\n{paragraph.format(v=0)}" for p in range(5)))
    target = str(note.resolve())
    wait_for(lambda: target in paths_found(daemon, "signal station log"), what="indexed")
    stop = threading.Event()
    problems: list[str] = []
    observed: set[int] = set()

    def keep_searching():
        while not stop.is_set():
            hits = [
                h
                for h in search(daemon, "signal station log gales fog", k=30)
                if h["path"] == target
            ]
            versions = {int(h["text"].split("Version ")[1].split(":")[0]) for h in hits}
            observed.update(versions)
            if not hits:
                problems.append("no chunks of the file")
            elif len(versions) > 1:
                problems.append(f"mixed versions {sorted(versions)}")

    searcher = threading.Thread(target=keep_searching)
    searcher.start()
    try:
        for version in range(1, 6):
            write(
                note, "\n\n".join(f"## Part {p}\n\n{paragraph.format(v=version)}" for p in range(5))
            )
            wait_for(
                lambda v=version: any(
                    f"Version {v}:" in h["text"] for h in search(daemon, "signal station", k=30)
                ),
                what=f"version {version}",
            )
    finally:
        stop.set()
        searcher.join()
    assert problems == []
    assert len(observed) >= 3  # the searcher really saw the file change under it


def test_removing_a_folder_deletes_its_chunks(kb, tmp_path):
    daemon, _ = kb
    extra = tmp_path / "extra"
    write(extra / "boat.md", "The rowing boat is painted ochre and teal.\n")
    assert daemon.cove("folders", "add", str(extra)).returncode == 0
    wait_for(
        lambda: paths_found(daemon, "rowing boat ochre teal")[0].endswith("boat.md"),
        what="second folder indexed",
    )
    chunks_with = wait_idle(daemon)["chunks"]
    assert daemon.cove("folders", "remove", str(extra)).returncode == 0
    wait_for(lambda: index_status(daemon)["chunks"] < chunks_with, what="chunks removed")
    assert all("boat.md" not in p for p in paths_found(daemon, "rowing boat ochre", k=30))


def test_bad_folder_requests_are_clear_errors(kb, tmp_path):
    daemon, folder = kb
    missing = daemon.cove("folders", "add", str(tmp_path / "nope"))
    assert missing.returncode in (1, 2) and "nope" in missing.stderr
    nested = daemon.cove("folders", "add", str(folder / "a"))
    assert nested.returncode == 1 and "inside the watched folder" in nested.stderr
    unknown = daemon.cove("folders", "remove", str(tmp_path))
    assert unknown.returncode == 1 and "not a watched folder" in unknown.stderr
