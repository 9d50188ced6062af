"""A source shown in context: its lines in the file, with the source's own lines marked."""

from __future__ import annotations

from pathlib import Path

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from cove.tui.answers import location


class SnippetScreen(ModalScreen[bool]):
    """Dismisses with True when the file should be opened in $EDITOR.

    `doc` is what read_file returned ({"path", "start_line", "end_line", "text", ...}), or
    None for a source without line numbers (a page), which is shown by its snippet.
    """

    CSS_PATH = "modal.tcss"
    BINDINGS = [
        Binding("escape,q", "dismiss(False)", "Close", id="snippet.close"),
        Binding("o", "open", "Open in $EDITOR", id="snippet.open"),
    ]

    def __init__(self, source: dict, doc: dict | None) -> None:
        super().__init__()
        self.source, self.doc = source, doc

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide") as dialog:
            dialog.border_title = f"[{self.source['n']}] {Path(self.source['path']).name}"
            where = location(self.source)
            yield Label(
                self.source["path"] + (f"  ({where})" if where else ""),
                classes="path",
                markup=False,
            )
            quote = self.source.get("quote")
            if quote:
                yield Label(f"“{quote['text']}”", id="snippet-quote", markup=False)
            with VerticalScroll(id="snippet-body"):
                yield Static(self._content(), id="snippet-text")
            yield Label("Escape closes · o opens the file in $EDITOR", classes="hint")

    def _content(self) -> Syntax | str:
        quote = self.source.get("quote") or {}
        if self.doc is None:
            return quote.get("text") or self.source.get("snippet", "")
        start = self.doc["start_line"]
        # The quote's lines stand out where the answer has one; else the source's.
        first = quote.get("line_start") or self.source.get("line_start") or start
        last = quote.get("line_end") or self.source.get("line_end") or first
        return Syntax(
            self.doc["text"].rstrip("\n"),
            Syntax.guess_lexer(self.source["path"], self.doc["text"]),
            line_numbers=True,
            start_line=start,
            highlight_lines=set(range(first, last + 1)),
            word_wrap=True,
            theme="ansi_dark" if self.app.current_theme.dark else "ansi_light",
        )

    @property
    def text(self) -> str:
        """The text shown (for tests and copying)."""
        return self.doc["text"] if self.doc else self.source.get("snippet", "")

    def action_open(self) -> None:
        """Open the file at the source's line in $EDITOR (the chat screen does it)."""
        self.dismiss(True)
