"""The keys, place by place (F1, or ? outside text fields)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

Sections = list[tuple[str, list[tuple[str, str]]]]


def help_tables(sections: Sections) -> Group:
    """One compact two-column table per place: `sections` is (place, [(keys, action)])."""
    parts: list[Text | Table] = [Text("Every action is also in the command palette (Ctrl+P).")]
    for title, keys in sections:
        table = Table(
            title=title,
            title_justify="left",
            title_style="bold",
            show_header=False,
            box=None,
            padding=(0, 2, 0, 0),
        )
        table.add_column("key", style="bold", min_width=14, no_wrap=True)
        table.add_column("action")
        for key, action in keys:
            table.add_row(key, action)
        parts += [Text(""), table]
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS = [Binding("escape,f1,q,question_mark", "dismiss", "Close", id="help.close")]

    def __init__(self, sections: Sections) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help") as box:
            box.border_title = "Cove keys"
            box.border_subtitle = "Escape closes · Up/Down scroll"
            yield Static(help_tables(self.sections), id="help-text")

    def on_mount(self) -> None:
        self.query_one("#help").focus()
