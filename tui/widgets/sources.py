"""The sources of the selected answer: Enter shows one in context, o opens it in $EDITOR."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from cove.tui.answers import source_label


class SourcesPanel(OptionList):
    """Lists sources; selecting one (Enter) posts OptionList.OptionSelected."""

    BINDINGS = [
        Binding(
            "enter",
            "select",
            "Show in context",
            tooltip="The source's lines in its file, in a window",
            id="sources.show",
        ),
        Binding(
            "o",
            "screen.open_source",
            "Open in $EDITOR",
            tooltip="Open the file in $EDITOR at the source's line",
            id="sources.open",
        ),
    ]

    def __init__(self) -> None:
        super().__init__(id="sources")
        self.sources: list[dict] = []
        self.border_title = "Sources"

    def show_sources(self, sources: list[dict]) -> None:
        """Replace the list (an empty list hides the panel)."""
        self.sources = list(sources)
        self.clear_options()
        self.add_options(Option(source_label(s), id=str(i)) for i, s in enumerate(sources))
        self.display = bool(sources)
        if sources:
            self.highlighted = 0

    @property
    def current(self) -> dict | None:
        """The highlighted source."""
        if self.highlighted is None or not self.sources:
            return None
        return self.sources[self.highlighted]
