"""The chat screen's source actions: show a source in context (a memory: its question and
whole answer), open it in $EDITOR."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

from textual.app import SuspendNotSupported
from textual.widgets import OptionList

from cove.tui.answers import EditorError, editor_command, find_memory, snippet_range
from cove.tui.screens.snippet import SnippetScreen
from cove.tui.widgets.sources import SourcesPanel
from cove.tui.work import api_worker

if TYPE_CHECKING:
    from cove.tui.screens.chat import ChatScreen


class SourceActions:
    """Mixed into ChatScreen: the sources panel's actions."""

    def action_focus_sources(self: ChatScreen) -> None:
        """Go to the selected answer's sources."""
        panel = self.query_one(SourcesPanel)
        if panel.display:
            panel.focus()
        else:
            self.notify("The selected answer has no sources.")

    def on_option_list_option_selected(self: ChatScreen, event: OptionList.OptionSelected) -> None:
        if isinstance(event.option_list, SourcesPanel):
            event.stop()
            self.action_show_source()

    def action_show_source(self: ChatScreen) -> None:
        """Show the highlighted source in context, read through the daemon."""
        source = self.query_one(SourcesPanel).current
        if source is None:
            self.notify("No source selected.", severity="warning")
            return
        if source.get("memory"):
            memory_id = source["memory"]["id"]
            api_worker(
                self,
                lambda client: find_memory(client.memories()["memories"], memory_id),
                lambda memory: self._show_snippet(source, memory),
                what="Reading the memory",
            )
            return
        lines = snippet_range(source)
        if lines is None:  # a page of a PDF or a slide: its snippet is what there is
            self._show_snippet(source, None)
            return
        api_worker(
            self,
            lambda client: client.read_file(source["path"], *lines),
            lambda doc: self._show_snippet(source, doc),
            what="Reading the source",
        )

    def _show_snippet(self: ChatScreen, source: dict, doc: dict | None) -> None:
        def closed(open_it: bool | None) -> None:
            if open_it:
                self.action_open_source()

        self.app.push_screen(SnippetScreen(source, doc), closed)

    def action_open_source(self: ChatScreen) -> None:
        """Open the highlighted source in $EDITOR, at its first line."""
        source = self.query_one(SourcesPanel).current
        if source is None:
            self.notify("No source to open.", severity="warning")
            return
        if not source["path"]:
            self.notify(
                "This memory is a correction you made in the chat: no file holds it.",
                severity="warning",
            )
            return
        try:
            command = editor_command(
                os.environ.get("EDITOR"), source["path"], source.get("line_start")
            )
        except EditorError as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        try:
            # The editor owns the terminal until it exits; then the TUI redraws.
            with self.app.suspend():
                subprocess.run(command, check=False)
        except SuspendNotSupported:
            self.notify("This terminal cannot hand over to an editor.", severity="warning")
        except OSError as exc:
            self.notify(f"Could not run {command[0]}: {exc}", severity="error", markup=False)
