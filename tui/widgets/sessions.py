"""The sessions sidebar: a search box and the list of sessions, most recent first."""

from __future__ import annotations

import time
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Label, ListItem, ListView


class SessionItem(ListItem):
    def __init__(self, session: dict, current: bool) -> None:
        super().__init__(classes="-current" if current else "")
        self.session = session

    def compose(self) -> ComposeResult:
        yield Label(self.session.get("title") or "(untitled)", classes="title", markup=False)
        yield Label(session_meta(self.session), classes="meta", markup=False)


def session_meta(session: dict) -> str:
    count = session.get("messages", 0)
    when = session.get("last_activity") or session.get("updated_at")
    stamp = time.strftime("%m-%d %H:%M", time.localtime(when)) if when else ""
    return f"{stamp}  {count} msg{'s' if count != 1 else ''}".strip()


class SessionList(ListView):
    """The list; its keys act on the highlighted session."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Open", tooltip="Open the session", id="sessions.open"),
        Binding(
            "r",
            "screen.rename_session",
            "Rename",
            tooltip="Rename the session",
            id="sessions.rename",
        ),
        Binding(
            "delete,d",
            "screen.delete_session",
            "Delete",
            tooltip="Delete the session (asks first)",
            id="sessions.delete",
        ),
        Binding(
            "x",
            "screen.export_session",
            "Export",
            tooltip="Export the session to a Markdown or JSON file",
            id="sessions.export",
        ),
    ]


class SessionsSidebar(Vertical):
    """Posts `Search` when the filter changes and `Open` when a session is chosen."""

    @dataclass
    class Search(Message):
        query: str

    @dataclass
    class Open(Message):
        session_id: str

    def __init__(self) -> None:
        super().__init__(id="sidebar")
        self.sessions: list[dict] = []
        self.current_id: str | None = None

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Search sessions", id="session-filter")
        yield Label("No sessions yet", id="no-sessions")
        yield SessionList(id="session-list")

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.post_message(self.Search(event.value.strip()))

    def on_list_view_selected(self, event: ListView.Selected) -> None:
        event.stop()
        if isinstance(event.item, SessionItem):
            self.post_message(self.Open(event.item.session["id"]))

    async def show_sessions(self, sessions: list[dict], current_id: str | None) -> None:
        """Replace the list, keeping the highlight on the same session where possible."""
        listing = self.query_one(SessionList)
        keep = self.highlighted_id or current_id
        self.sessions, self.current_id = sessions, current_id
        await listing.clear()
        await listing.extend(SessionItem(s, s["id"] == current_id) for s in sessions)
        ids = [s["id"] for s in sessions]
        if keep in ids:
            listing.index = ids.index(keep)
        self.query_one("#no-sessions").display = not sessions
        filtered = bool(self.query_one("#session-filter", Input).value.strip())
        self.query_one("#no-sessions", Label).update(
            "No matching sessions" if filtered else "No sessions yet"
        )

    @property
    def highlighted_id(self) -> str | None:
        item = self.query_one(SessionList).highlighted_child
        return item.session["id"] if isinstance(item, SessionItem) else None

    @property
    def highlighted(self) -> dict | None:
        item = self.query_one(SessionList).highlighted_child
        return item.session if isinstance(item, SessionItem) else None
