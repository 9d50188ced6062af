"""One question and its answer in the chat log: streamed Markdown, a badge for answers
that are not from the documents (general knowledge, learned from the user), and a line
with sources and feedback."""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from cove.tui.answers import Turn, badge, meta_line, unsupported_line

KINDS = ("streaming", "stopped", "failed", "declined", "learned", "general", "unknown", "grounded")


class TurnView(Vertical, can_focus=True):
    """Focus selects the answer; the keys act on it (the screen does the work)."""

    BINDINGS = [
        Binding("c", "screen.copy_answer", "Copy", tooltip="Copy the answer", id="answer.copy"),
        Binding(
            "plus",
            "screen.rate('up')",
            "Good",
            key_display="+",
            tooltip="Rate the answer good (thumbs up)",
            id="answer.up",
        ),
        Binding(
            "minus",
            "screen.rate('down')",
            "Bad",
            key_display="-",
            tooltip="Rate the answer bad (thumbs down)",
            id="answer.down",
        ),
        Binding(
            "e",
            "screen.correct",
            "Correct",
            tooltip="Write the answer you wanted (kept for fine-tuning)",
            id="answer.correct",
        ),
        Binding("r", "screen.retry", "Retry", tooltip="Ask the question again", id="answer.retry"),
        Binding(
            "g",
            "screen.ask_general",
            "Ask general",
            tooltip="Ask again from general knowledge, not your documents",
            id="answer.general",
        ),
        Binding(
            "s",
            "screen.focus_sources",
            "Sources",
            tooltip="Go to the answer's sources",
            id="answer.sources",
        ),
        Binding(
            "up",
            "step(-1)",
            "Previous",
            show=False,
            tooltip="The answer above",
            id="answer.previous",
        ),
        Binding(
            "down", "step(1)", "Next", show=False, tooltip="The answer below", id="answer.next"
        ),
    ]

    @dataclass
    class Selected(Message):
        view: TurnView

    def __init__(self, turn: Turn) -> None:
        super().__init__()
        self.turn = turn
        self.tokens_seen = 0
        self._stream: MarkdownStream | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"You: {self.turn.question}", classes="question", markup=False)
        yield Static("", classes="badge", markup=False)
        yield Markdown(self.turn.answer, classes="answer")
        yield Static("", classes="unsupported", markup=False)
        yield Static("", classes="meta", markup=False)

    def on_mount(self) -> None:
        self.refresh_labels()

    def on_focus(self) -> None:
        self.post_message(self.Selected(self))

    def action_step(self, step: int) -> None:
        """Focus the previous (-1) or next (1) answer."""
        views = list(self.parent.query_children(TurnView)) if self.parent else []
        index = views.index(self) + step
        if 0 <= index < len(views):
            views[index].focus()
            views[index].scroll_visible()

    def refresh_labels(self) -> None:
        """Badge, meta line and kind class from the turn's current state."""
        for kind in KINDS:
            self.set_class(self.turn.kind == kind, f"-{kind}")
        text = badge(self.turn)
        badge_widget = self.query_one(".badge", Static)
        badge_widget.update(text)
        badge_widget.display = bool(text)
        unsupported = unsupported_line(self.turn)
        unsupported_widget = self.query_one(".unsupported", Static)
        unsupported_widget.update(unsupported)
        unsupported_widget.display = bool(unsupported)
        meta = meta_line(self.turn)
        if self.turn.state == "streaming":
            meta = "answering… (Esc stops)"
        meta_widget = self.query_one(".meta", Static)
        meta_widget.update(meta)
        meta_widget.display = bool(meta)

    async def append(self, text: str) -> None:
        """Add streamed answer text."""
        if self.turn.state != "streaming":
            return  # a token that raced a stop
        self.tokens_seen += 1
        self.turn.answer += text
        if self._stream is None:
            self._stream = Markdown.get_stream(self.query_one(Markdown))
        await self._stream.write(text)

    async def finish(self, result: dict) -> None:
        """The daemon's final document: the kept answer, its sources and ids."""
        await self._stop_stream()
        await self.query_one(Markdown).update(result.get("answer", self.turn.answer))
        # The state changes with the labels, after the last await: whoever sees "done"
        # sees the finished answer.
        self.turn.finish(result)
        self.refresh_labels()

    async def end(self, state: str, error: str = "") -> None:
        """Stopped by the user, or failed."""
        await self._stop_stream()
        self.turn.state, self.turn.error = state, error
        self.refresh_labels()

    async def _stop_stream(self) -> None:
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
