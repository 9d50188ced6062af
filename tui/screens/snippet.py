"""A source shown in context: its lines in the file, with the source's own lines marked;
or, for a memory, the question the user answered and their answer."""

from __future__ import annotations

from pathlib import Path

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from cove.daemon.client.sources import location
from cove.tui.answers import told_you


class SnippetScreen(ModalScreen[bool]):
    """Dismisses with True when the file should be opened in $EDITOR.

    `doc` is what read_file returned ({"path", "start_line", "end_line", "text", ...}), or
    None for a source without line numbers (a page), which is shown by its snippet. For a
    memory source `doc` is the memory from `GET /api/memories` (its whole answer), or None
    when it was forgotten since (the source's snippet is shown).
    """

    CSS_PATH = "modal.tcss"
    BINDINGS = [
        Binding("escape,q", "dismiss(False)", "Close", id="snippet.close"),
        Binding("o", "open", "Open in $EDITOR", id="snippet.open"),
    ]

    def __init__(self, source: dict, doc: dict | None) -> None:
        super().__init__()
        self.source, self.doc = source, doc

    @property
    def memory(self) -> dict | None:
        """The source's memory ({"id", "kind", "question", "taught_at"}), if it is one."""
        return self.source.get("memory")

    def compose(self) -> ComposeResult:
        if self.memory:
            yield from self._compose_memory(self.memory)
            return
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

    def _compose_memory(self, memory: dict) -> ComposeResult:
        with Vertical(classes="dialog wide") as dialog:
            dialog.border_title = f"[{self.source['n']}] {told_you(memory['taught_at'])}"
            yield Label(f"Question: {memory['question']}", id="memory-question", markup=False)
            with VerticalScroll(id="snippet-body"):
                yield Static(self.text, id="snippet-text", markup=False)
            if memory.get("kind") == "correction":
                origin = "A correction you made in the chat."
            else:
                line = self.source.get("line_start")
                origin = f"In your teach folder: {self.source['path']}, line {line}."
            if self.doc is None:
                origin += " Forgotten since."
            yield Label(origin, classes="path", markup=False)
            editable = " · o opens the teach file in $EDITOR" if self.source["path"] else ""
            yield Label("Escape closes" + editable, classes="hint")

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
        """The text shown (for tests and copying): the file's lines, or a memory's answer."""
        if self.memory:
            return self.doc["answer"] if self.doc else self.source.get("snippet", "")
        return self.doc["text"] if self.doc else self.source.get("snippet", "")

    def action_open(self) -> None:
        """Open the file at the source's line in $EDITOR (the chat screen does it)."""
        self.dismiss(True)
