"""Memories: what the user taught Cove, listed, searched by meaning, added and forgotten."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from textual import events
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Label, Static

from cove.daemon.client import CoveClient
from cove.tui.memories import (
    DAEMON_DOWN,
    EMPTY,
    SEARCH_LIMIT,
    cell_widths,
    count_text,
    forget,
    forgotten_note,
    matching,
    memory_details,
    memory_row,
)
from cove.tui.screens.confirm import ConfirmScreen
from cove.tui.screens.remember import RememberScreen
from cove.tui.widgets.status_bar import StatusBar
from cove.tui.work import api_worker, cove_app

COLUMNS = ("Question", "Answer", "Taught", "Kind")
# Typing in the search box waits this long before asking the daemon (as the chat's does).
SEARCH_DELAY_S = 0.25


class MemoriesScreen(Screen[None]):
    """Fetches the memories (or searches them) in thread workers when shown, on r, and
    as the search box changes."""

    CSS_PATH = "memories.tcss"
    AUTO_FOCUS = "#memory-table"
    BINDINGS = [
        Binding(
            "a",
            "add_memory",
            "Add",
            tooltip="Teach Cove a question and its answer",
            id="memories.add",
        ),
        Binding(
            "delete,d",
            "forget_memory",
            "Forget",
            tooltip="Forget the selected memory (asks first)",
            id="memories.forget",
        ),
        Binding(
            "ctrl+f",
            "search",
            "Search",
            tooltip="Search the memories by meaning",
            id="memories.search",
        ),
        Binding("r", "reload", "Reload", tooltip="Fetch the memories again", id="memories.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        # What the table shows (None until the daemon first answered).
        self.memories: list[dict] | None = None
        self._search_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield StatusBar("Memories")
        with Vertical(id="memories"):
            yield Input(
                placeholder="Search by meaning (Ctrl+F); empty lists every memory",
                id="memory-search",
            )
            yield Label("", id="memory-count", markup=False)
            yield DataTable(id="memory-table", cursor_type="row", zebra_stripes=True)
            empty = Static(EMPTY, id="no-memories", markup=False)
            empty.border_title = "Memories"
            yield empty
            yield Static("", id="memory-detail", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns(*COLUMNS)
        self.query_one("#no-memories").display = False
        self.query_one("#memory-detail").display = False
        self.watch(self.app, "daemon", self._daemon_changed)

    def _daemon_changed(self, state: str) -> None:
        if state == "up" and self.is_current:
            self.action_reload()
        elif state == "down":
            count = self.query_one("#memory-count", Label)
            count.update(DAEMON_DOWN)
            count.display = True

    def on_screen_resume(self) -> None:
        if cove_app(self).daemon == "up":
            self.action_reload()

    # --- listing and searching ------------------------------------------------------

    @property
    def search_text(self) -> str:
        """The search box's text ("" lists every memory)."""
        return self.query_one("#memory-search", Input).value.strip()

    def action_reload(self) -> None:
        """Fetch the memories, or the ones close to the search box's text."""
        query = self.search_text

        def fetch(client: CoveClient) -> list[dict]:
            if query:
                return matching(client.search_memories(query, SEARCH_LIMIT)["results"])
            return client.memories()["memories"]

        api_worker(
            self,
            fetch,
            partial(self.show_memories, query),
            what="Loading the memories",
            group="memories",
            exclusive=True,  # a newer query supersedes one in flight
        )

    def show_memories(self, query: str, memories: list[dict]) -> None:
        """Replace the table, keeping the cursor on the same memory where possible."""
        keep = self.selected["id"] if self.selected else None
        self.memories = memories
        self._fill_table(keep)
        # The teaching help is for an empty store, not for a search that found nothing;
        # with nothing to search or select, the screen's keys (a) need no focus.
        nothing = not memories and not query
        self.query_one("#no-memories").display = nothing
        for widget in (self.query_one("#memory-search"), self.query_one(DataTable)):
            widget.display = not nothing
        count = self.query_one("#memory-count", Label)
        count.update(count_text(len(memories), query))
        count.display = not nothing
        if not nothing and self.focused is None:
            self.query_one(DataTable).focus()
        self._show_details()
        self.refresh_bindings()  # the footer offers what there is to act on

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Nothing taught: no search box to go to, nothing to forget (hidden from the footer).
        if action in ("search", "forget_memory"):
            return self.memories is None or bool(self.memories) or bool(self.search_text)
        return True

    def _fill_table(self, keep: str | None) -> None:
        table = self.query_one(DataTable)
        table.clear()
        # The screen's width, less the padding: the table may be hidden (so of no size).
        widths = cell_widths(self.size.width - 2)
        for memory in self.memories or []:
            table.add_row(*memory_row(memory, widths), key=memory["id"])
        ids = [m["id"] for m in self.memories or []]
        if keep in ids:
            table.move_cursor(row=ids.index(keep))

    def on_resize(self, event: events.Resize) -> None:
        if self.memories:  # cut the cells to the new width
            self._fill_table(self.selected["id"] if self.selected else None)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DELAY_S, self.action_reload)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        # The search runs as the text changes; Enter goes to its results.
        event.stop()
        self.query_one(DataTable).focus()

    def action_search(self) -> None:
        """Go to the search box."""
        self.query_one("#memory-search", Input).focus()

    # --- the selected memory ---------------------------------------------------------

    @property
    def selected(self) -> dict | None:
        """The memory under the table's cursor."""
        table = self.query_one(DataTable)
        if not self.memories or table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((m for m in self.memories if m["id"] == key), None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_details()

    def _show_details(self) -> None:
        memory = self.selected
        detail = self.query_one("#memory-detail", Static)
        detail.display = memory is not None
        detail.update(memory_details(memory) if memory else "")

    def action_add_memory(self) -> None:
        """Ask for a question and its answer, and remember them."""

        def add(pair: tuple[str, str] | None) -> None:
            if pair is None:
                return
            question, answer = pair
            api_worker(
                self,
                lambda client: client.remember(question, answer),
                self._remembered,
                what="Remembering",
            )

        self.app.push_screen(RememberScreen(), add)

    def _remembered(self, doc: dict) -> None:
        self.notify(f"Remembered “{doc['memory']['question']}”.", markup=False)
        self.action_reload()

    def action_forget_memory(self) -> None:
        """Forget the selected memory (after asking); name adapters trained on it."""
        memory = self.selected
        if memory is None:
            self.notify("No memory selected.", severity="warning")
            return
        memory_id = memory["id"]

        def confirmed(yes: bool | None) -> None:
            if yes:
                api_worker(
                    self,
                    lambda client: forget(client, memory_id),
                    self._forgotten,
                    what="Forgetting the memory",
                )

        if memory.get("kind") == "correction":
            effect = "The correction is dropped from its answer (a rating stays)"
        else:
            effect = f"It is removed from {memory['path']}"
        question = f"Forget “{memory['question']}”? {effect}; answers stop using it at once."
        self.app.push_screen(ConfirmScreen("Forget memory", question, "Forget"), confirmed)

    def _forgotten(self, doc: dict | None) -> None:
        if doc is None:
            self.notify("That memory was gone already (its file changed).", severity="warning")
        else:
            note, severity = forgotten_note(doc)
            self.notify(note, severity=severity, markup=False, timeout=15)
        self.action_reload()

    def commands(self) -> Iterable[SystemCommand]:
        """The memories' actions for the command palette."""
        run = self.run_action
        yield SystemCommand(
            "Add memory", "Teach Cove a question and its answer (a)", partial(run, "add_memory")
        )
        yield SystemCommand(
            "Forget memory", "Forget the selected memory", partial(run, "forget_memory")
        )
        yield SystemCommand("Search memories", "Search by meaning (Ctrl+F)", partial(run, "search"))
        yield SystemCommand(
            "Reload memories", "Fetch the memories again (r)", partial(run, "reload")
        )
