"""Correct an answer: the answer you wanted, kept as feedback for fine-tuning."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, TextArea


class CorrectionScreen(ModalScreen[str | None]):
    """Dismisses with the corrected text (Ctrl+S or Save) or None (Escape)."""

    CSS_PATH = "modal.tcss"
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="correction.save"),
        Binding("escape", "cancel", "Cancel", id="correction.cancel"),
    ]

    def __init__(self, question: str, text: str) -> None:
        super().__init__()
        self.question, self.text = question, text

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide") as dialog:
            dialog.border_title = "Correct the answer"
            yield Label(f"Question: {self.question}", classes="path", markup=False)
            yield TextArea(self.text, id="correction-text", soft_wrap=True)
            with Horizontal(classes="buttons"):
                yield Button("Save (Ctrl+S)", variant="primary", id="save")
                yield Button("Cancel (Esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one(TextArea).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_save(self) -> None:
        text = self.query_one(TextArea).text.strip()
        if not text:
            self.notify("A correction cannot be empty.", severity="warning")
            return
        self.dismiss(text)

    def action_cancel(self) -> None:
        self.dismiss(None)
