"""Teach Cove a question and its answer (a new memory), in a modal."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, TextArea


class RememberScreen(ModalScreen[tuple[str, str] | None]):
    """Dismisses with (question, answer) (Ctrl+S or Remember) or None (Escape)."""

    CSS_PATH = "modal.tcss"
    BINDINGS = [
        Binding("ctrl+s", "save", "Remember", id="remember.save"),
        Binding("escape", "cancel", "Cancel", id="remember.cancel"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog") as dialog:
            dialog.border_title = "Teach Cove"
            yield Label("Question", markup=False)
            yield Input(placeholder="e.g. What is the name of my boat?", id="remember-question")
            yield Label("Answer", markup=False)
            yield TextArea(id="remember-answer", soft_wrap=True)
            yield Label("Answers use it at once; training learns it later.", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Remember (Ctrl+S)", variant="primary", id="save")
                yield Button("Cancel (Esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#remember-question", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        # Enter in the question goes on to the answer (which takes newlines).
        event.stop()
        self.query_one("#remember-answer", TextArea).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_save(self) -> None:
        """Dismiss with the question and answer, unless one is empty."""
        question = self.query_one("#remember-question", Input).value.strip()
        answer = self.query_one("#remember-answer", TextArea).text.strip()
        if not question or not answer:
            self.notify("A memory needs a question and an answer.", severity="warning")
            return
        self.dismiss((question, answer))

    def action_cancel(self) -> None:
        self.dismiss(None)
