"""A one-line question in a modal: a session's new title, where to export it, a folder."""

from __future__ import annotations

from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Input, Label


class PromptScreen(ModalScreen[str | None]):
    """Dismisses with the entered text (Enter) or None (Escape)."""

    CSS_PATH = "modal.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel")]

    def __init__(self, title: str, label: str, value: str = "") -> None:
        super().__init__()
        self.title_text, self.label, self.value = title, label, value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = self.title_text
            yield Label(self.label, markup=False)
            yield Input(self.value, id="prompt-input", select_on_focus=False)
            yield from self.compose_extra()
            yield Label("Enter to confirm, Escape to cancel", classes="hint")

    def compose_extra(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.query_one("#prompt-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        if value:
            self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FolderTree(DirectoryTree):
    """Folders only, hidden ones left out (Cove never reads them anyway)."""

    def filter_paths(self, paths):  # type: ignore[override]
        return [p for p in paths if p.is_dir() and not p.name.startswith(".")]


class FolderPromptScreen(PromptScreen):
    """A folder path, typed or picked in a tree (picking fills the input)."""

    def __init__(self, start: Path) -> None:
        super().__init__("Add a folder", "Folder to watch (type a path or pick one below)")
        self.start = start

    def compose_extra(self) -> ComposeResult:
        yield FolderTree(self.start, id="folder-tree")

    def on_directory_tree_directory_selected(self, event: DirectoryTree.DirectorySelected) -> None:
        event.stop()
        field = self.query_one("#prompt-input", Input)
        field.value = str(event.path)
        field.cursor_position = len(field.value)
