"""The library screen against a real daemon: add a folder, live progress, errors, remove."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, ProgressBar

from cove.tui.screens.confirm import ConfirmScreen
from cove.tui.screens.library import LibraryScreen, progress_text
from cove.tui.screens.prompt import FolderPromptScreen
from tests.support.daemon import RunningDaemon
from tests.support.kb import write
from tests.tui.conftest import daemon_up, make_app, run, wait_for


def rows(screen: LibraryScreen, table_id: str) -> dict[str, list]:
    table = screen.query_one(table_id, DataTable)
    return {str(key.value): table.get_row(key) for key in table.rows}


def make_folder(root: Path) -> Path:
    folder = root / "library"
    write(folder / "tides.md", "# Tides\n\nHigh tide at Skerry harbour is at noon.\n")
    write(folder / "birds.md", "# Birds\n\nPuffins nest on the cliffs in May.\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    return folder


def test_add_folder_progress_errors_and_remove(kb_daemon: RunningDaemon, tmp_path: Path) -> None:
    folder = make_folder(tmp_path)
    app = make_app(kb_daemon.home)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await daemon_up(pilot)
            await pilot.press("f3")
            screen = await wait_for(
                pilot, lambda: isinstance(app.screen, LibraryScreen) and app.screen, 5
            )
            await wait_for(pilot, lambda: rows(screen, "#folders"), 10, "the watched folder")
            bar = screen.query_one(ProgressBar)

            # Paused, the new folder's work waits: the bar shows it unfinished.
            await wait_for(pilot, lambda: screen.index_status, 10, "an index event")
            await pilot.press("p")
            await wait_for(pilot, lambda: screen.index_status.get("paused"), 10, "paused")
            await pilot.press("a")
            await wait_for(pilot, lambda: isinstance(app.screen, FolderPromptScreen), 5)
            await pilot.press(*str(folder), "enter")
            await wait_for(pilot, lambda: str(folder) in rows(screen, "#folders"), 10, "row")
            await wait_for(pilot, lambda: screen.index_status["state"] != "idle", 10, "queued")
            assert bar.percentage is not None and bar.percentage < 1

            # Resumed, the live events carry it to idle.
            await pilot.press("p")
            await wait_for(
                pilot,
                lambda: (
                    screen.index_status["state"] == "idle"
                    and not screen.index_status["paused"]
                    and screen.index_status["failed"] >= 1
                ),
                60,
                "idle",
            )
            assert bar.percentage == 1
            assert "idle" in str(screen.query_one("#progress-text").render())
            await wait_for(
                pilot, lambda: rows(screen, "#folders")[str(folder)][1:] == [2, 2, 1], 10
            )

            # The file that failed is listed, with the reason.
            errors = await wait_for(pilot, lambda: rows(screen, "#errors"), 10, "errors")
            broken = str((folder / "broken.pdf").resolve())
            assert broken in errors and errors[broken][1]

            # Remove the folder (after confirming).
            table = screen.query_one("#folders", DataTable)
            table.focus()
            table.move_cursor(row=table.get_row_index(str(folder)))
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5)
            await pilot.press("y")
            await wait_for(pilot, lambda: str(folder) not in rows(screen, "#folders"), 10)
            await wait_for(pilot, lambda: broken not in rows(screen, "#errors"), 10)

        with kb_daemon.client() as client:
            assert str(folder) not in [f["path"] for f in client.folders()["folders"]]

    try:
        run(scenario)
    finally:
        with kb_daemon.client() as client:
            client.index_action("resume")  # never leave the shared daemon paused


def test_a_pause_says_why_when_the_daemon_gave_a_reason() -> None:
    status = {"state": "indexing", "files": 3, "chunks": 9, "queued": 4, "failed": 0}
    base = "indexing · 3 files, 9 chunks, 4 queued, 0 failed"
    assert progress_text(status) == base
    assert progress_text({**status, "paused": True, "paused_reason": None}) == base + " · paused"
    full = "no space left on device: 0.3 MB free on /home; indexing waits until 100.3 MB are free"
    assert progress_text({**status, "paused": True, "paused_reason": full}) == (
        f"{base} · paused: {full}"
    )
