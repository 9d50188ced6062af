"""The library: watched folders, live indexing progress, and the files that failed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Label, ProgressBar
from textual.worker import Worker, get_current_worker

from cove.daemon.client import ApiError, DaemonNotRunningError
from cove.tui.connection import Stream, describe
from cove.tui.screens.confirm import ConfirmScreen
from cove.tui.screens.prompt import FolderPromptScreen
from cove.tui.widgets.status_bar import StatusBar
from cove.tui.work import DaemonLost, api_worker, cove_app

# Wait before reconnecting the event stream after it broke.
RECONNECT_S = 2.0


@dataclass
class IndexStatus(Message):
    """An index status from the daemon's event stream."""

    status: dict


def progress(status: dict) -> tuple[int, int]:
    """(done, total) files, counted as `cove index status` counts them."""
    done = status.get("files", 0) + status.get("failed", 0) + status.get("skipped", 0)
    return done, done + status.get("queued", 0) + status.get("in_progress", 0)


def progress_text(status: dict) -> str:
    """The library's progress line; a pause says why when the daemon gave a reason (a full
    disk: "paused: no space left on device: ...")."""
    text = (
        f"{status.get('state', '?')} · {status.get('files', 0)} files, "
        f"{status.get('chunks', 0)} chunks, {status.get('queued', 0)} queued, "
        f"{status.get('failed', 0)} failed"
    )
    if not status.get("paused"):
        return text
    reason = status.get("paused_reason")
    return text + (f" · paused: {reason}" if reason else " · paused")


class LibraryScreen(Screen[None]):
    """Follows the daemon's index events in a thread while the screen is shown."""

    CSS_PATH = "library.tcss"
    BINDINGS = [
        Binding("a", "add_folder", "Add", tooltip="Watch a folder", id="library.add"),
        Binding(
            "delete,d",
            "remove_folder",
            "Remove",
            tooltip="Stop watching the selected folder (asks first)",
            id="library.remove",
        ),
        Binding("p", "pause", "Pause", tooltip="Pause or resume indexing", id="library.pause"),
        Binding(
            "s",
            "rescan",
            "Rescan",
            tooltip="Look for changes in every folder now",
            id="library.rescan",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.index_status: dict | None = None
        self._stream: Stream | None = None
        self._following: Worker | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar("Library")
        with VerticalScroll(id="library"):
            yield Label("Watched folders", classes="section")
            yield DataTable(id="folders", cursor_type="row", zebra_stripes=True)
            yield Label("No watched folders yet: press a to add one.", id="no-folders")
            yield Label("Indexing", classes="section")
            yield ProgressBar(id="progress", show_eta=False)
            yield Label("", id="progress-text", markup=False)
            yield Label("", id="current-file", markup=False)
            yield Label("Files that failed", classes="section")
            yield DataTable(id="errors", cursor_type="row", zebra_stripes=True)
            yield Label("No errors.", id="no-errors")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#folders", DataTable).add_columns("Folder", "Files", "Chunks", "Failed")
        self.query_one("#errors", DataTable).add_columns("File", "Reason")
        self.query_one("#current-file").display = False
        # No bar until the daemon says how far indexing is (an empty bar would pulse).
        self.query_one(ProgressBar).display = False
        self.watch(self.app, "daemon", self._daemon_changed)

    def _daemon_changed(self, state: str) -> None:
        if state == "up" and self.is_current:
            self.refresh_all()
            self.follow_index()
        elif state == "down":
            self.query_one(ProgressBar).display = False
            self.query_one("#progress-text", Label).update("daemon down: no index status")

    def on_screen_resume(self) -> None:
        if cove_app(self).daemon == "up":
            self.refresh_all()
            self.follow_index()

    def on_screen_suspend(self) -> None:
        self.stop_following()

    def on_unmount(self) -> None:
        self.stop_following()

    # --- live index status ---------------------------------------------------------

    def follow_index(self) -> None:
        """Start the event-stream thread (once)."""
        if self._following is not None and self._following.is_running:
            return
        self._following = self.run_worker(
            self._follow, thread=True, group="index-events", name="index events"
        )

    def stop_following(self) -> None:
        if self._following is not None:
            self._following.cancel()
        if self._stream is not None:
            self._stream.cut()

    def _follow(self) -> None:
        """In a thread: post every index status until cancelled; reconnect after a
        break (the daemon restarting)."""
        app, worker = cove_app(self), get_current_worker()
        while not worker.is_cancelled:
            try:
                self._stream = stream = app.connection.open_stream()
            except DaemonNotRunningError as exc:
                app.post_message(DaemonLost(describe(exc)))
                worker.cancelled_event.wait(RECONNECT_S)
                continue
            if worker.is_cancelled:
                stream.cut()
            try:
                for event, data in stream.client.index_events():
                    if worker.is_cancelled:
                        break
                    if event == "status" and isinstance(data, dict):
                        self.post_message(IndexStatus(data))
            except DaemonNotRunningError as exc:
                if not stream.cut_requested:
                    app.post_message(DaemonLost(describe(exc)))
            except (ApiError, ValueError) as exc:
                app.notify(f"Index events: {describe(exc)}", severity="error", markup=False)
            finally:
                app.connection.close_stream(stream)
            worker.cancelled_event.wait(RECONNECT_S)

    def on_index_status(self, message: IndexStatus) -> None:
        status, before = message.status, self.index_status or {}
        self.index_status = status
        done, total = progress(status)
        bar = self.query_one(ProgressBar)
        bar.display = True
        # No files at all is a finished index, not an unknown amount of work.
        bar.update(total=total or 1, progress=done if total else 1)
        self.query_one("#progress-text", Label).update(progress_text(status))
        current = self.query_one("#current-file", Label)
        current.display = bool(status.get("current_file"))
        current.update(f"now: {status.get('current_file') or ''}")
        counts = ("files", "failed", "chunks", "skipped")
        if any(status.get(k) != before.get(k) for k in counts) or status["state"] == "idle":
            self.refresh_all()

    # --- folders and errors ---------------------------------------------------------

    def refresh_all(self) -> None:
        """Reload the folders and the failed files."""
        api_worker(
            self,
            lambda client: (client.folders()["folders"], client.index_errors()["failed"]),
            self._show_lists,
            what="Loading the library",
            group="library",
            exclusive=True,
        )

    def _show_lists(self, lists: tuple[list[dict], list[dict]]) -> None:
        folders, failed = lists
        table = self.query_one("#folders", DataTable)
        keep = self.selected_folder
        table.clear()
        for folder in folders:
            row = (folder["path"], folder["files"], folder["chunks"], folder["failed"])
            table.add_row(*row, key=folder["path"])
        if keep in [f["path"] for f in folders]:
            table.move_cursor(row=table.get_row_index(keep))
        self.query_one("#no-folders").display = not folders
        errors = self.query_one("#errors", DataTable)
        errors.clear()
        for item in failed:
            errors.add_row(item["path"], item.get("error") or "", key=item["path"])
        self.query_one("#no-errors").display = not failed

    @property
    def selected_folder(self) -> str | None:
        table = self.query_one("#folders", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
        return str(key.value) if key.value is not None else None

    def action_add_folder(self) -> None:
        """Watch a folder (indexing goes on in the daemon)."""

        def add(path: str | None) -> None:
            if not path:
                return
            folder = str(Path(path).expanduser().resolve())
            api_worker(
                self,
                lambda client: client.add_folder(folder),
                partial(self._changed, f"Watching {folder}; indexing goes on."),
                what="Adding the folder",
            )

        self.app.push_screen(FolderPromptScreen(Path.home()), add)

    def action_remove_folder(self) -> None:
        """Stop watching the selected folder and delete its chunks (after asking)."""
        folder = self.selected_folder
        if folder is None:
            self.notify("No folder selected.", severity="warning")
            return

        def remove(yes: bool | None) -> None:
            if yes:
                api_worker(
                    self,
                    lambda client: client.remove_folder(folder),
                    partial(self._changed, f"Stopped watching {folder}."),
                    what="Removing the folder",
                )

        question = f"Stop watching {folder} and delete its chunks from the index?"
        self.app.push_screen(ConfirmScreen("Remove folder", question, "Remove"), remove)

    def action_pause(self) -> None:
        """Hold indexing, or let it go on."""
        paused = bool((self.index_status or {}).get("paused"))
        action = "resume" if paused else "pause"
        api_worker(
            self,
            lambda client: client.index_action(action),
            lambda _: self.notify("Indexing resumed." if paused else "Indexing paused."),
            what="Pause/resume",
        )

    def action_rescan(self) -> None:
        """Look for changes in every watched folder now."""
        api_worker(
            self,
            lambda client: client.index_action("rescan"),
            lambda _: self.notify("Rescanning the watched folders."),
            what="Rescan",
        )

    def _changed(self, note: str, _: dict) -> None:
        self.notify(note, markup=False)
        self.refresh_all()

    def commands(self) -> Iterable[SystemCommand]:
        """The library's actions for the command palette."""
        run = self.run_action
        yield SystemCommand("Add folder", "Watch a folder (a)", partial(run, "add_folder"))
        yield SystemCommand(
            "Remove folder", "Stop watching the selected folder", partial(run, "remove_folder")
        )
        yield SystemCommand("Pause or resume indexing", "Hold indexing (p)", partial(run, "pause"))
        yield SystemCommand(
            "Rescan", "Look for changes in every folder now", partial(run, "rescan")
        )
