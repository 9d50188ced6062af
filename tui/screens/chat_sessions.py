"""The chat screen's session actions: list and search, open, new, rename, delete, export."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.containers import VerticalScroll
from textual.timer import Timer
from textual.widgets import Input

from cove.daemon.client import CoveClient
from cove.tui.answers import turns_from_messages
from cove.tui.screens.confirm import ConfirmScreen
from cove.tui.screens.prompt import PromptScreen
from cove.tui.widgets.chat_input import ChatInput
from cove.tui.widgets.sessions import SessionsSidebar
from cove.tui.widgets.sources import SourcesPanel
from cove.tui.widgets.turn import TurnView
from cove.tui.work import api_worker

if TYPE_CHECKING:
    from cove.tui.screens.chat import ChatScreen

# Typing in the search box waits this long before asking the daemon.
SEARCH_DELAY_S = 0.25


class SessionActions:
    """Mixed into ChatScreen (which provides `session_id`, `generating`, `select`)."""

    _search_timer: Timer | None = None

    # --- listing ------------------------------------------------------------------

    def load_sessions(self: ChatScreen) -> None:
        """(Re)load the sidebar from the daemon, with the search box's query."""
        query = self.query_one("#session-filter", Input).value.strip() or None
        sidebar = self.query_one(SessionsSidebar)
        api_worker(
            self,
            lambda client: client.sessions(query=query)["sessions"],
            lambda sessions: sidebar.show_sessions(sessions, self.session_id),
            what="Listing sessions",
            group="sessions",
            exclusive=True,
        )

    def on_sessions_sidebar_search(self: ChatScreen, message: SessionsSidebar.Search) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DELAY_S, self.load_sessions)

    def action_search_sessions(self: ChatScreen) -> None:
        """Show the sidebar and go to its search box."""
        sidebar = self.query_one(SessionsSidebar)
        sidebar.display = True
        self.query_one("#session-filter", Input).focus()

    def action_toggle_sidebar(self: ChatScreen) -> None:
        """Show or hide the sessions sidebar."""
        sidebar = self.query_one(SessionsSidebar)
        sidebar.display = not sidebar.display
        if not sidebar.display:
            self.query_one(ChatInput).focus()

    # --- opening --------------------------------------------------------------------

    def on_sessions_sidebar_open(self: ChatScreen, message: SessionsSidebar.Open) -> None:
        self.open_session(message.session_id)

    def open_session(self: ChatScreen, session_id: str) -> None:
        """Show a stored session; the next question continues it."""
        if self.generating:
            self.notify("Wait for the answer, or press Esc to stop it.", severity="warning")
            return
        api_worker(
            self,
            lambda client: client.session(session_id),
            self.show_session,
            what="Opening the session",
            group="open",
            exclusive=True,
        )

    async def show_session(self: ChatScreen, doc: dict) -> None:
        """Replace the log with a stored session's turns; select its last answer."""
        await self._clear_log()
        self.session_id = doc["session"]["id"]
        views = [TurnView(turn) for turn in turns_from_messages(doc["messages"])]
        self.query_one("#welcome").display = not views
        log = self.query_one("#log", VerticalScroll)
        await log.mount_all(views)
        if views:
            self.select(views[-1])
            log.anchor()
        self.load_sessions()

    async def _clear_log(self: ChatScreen) -> None:
        await self.query(TurnView).remove()
        self.query_one("#log", VerticalScroll).anchor(False)
        self.selected = None
        self.query_one(SourcesPanel).show_sources([])

    async def action_new_chat(self: ChatScreen) -> None:
        """Start a new session (with the next question)."""
        if self.generating:
            self.notify("Wait for the answer, or press Esc to stop it.", severity="warning")
            return
        await self._clear_log()
        self.session_id = None
        self.query_one("#welcome").display = True
        self.query_one(ChatInput).focus()
        self.load_sessions()

    # --- rename, delete, export ------------------------------------------------------

    def _target_session(self: ChatScreen) -> dict | None:
        """The session highlighted in the sidebar when it has focus, else the open one."""
        sidebar = self.query_one(SessionsSidebar)
        if sidebar.has_focus_within and sidebar.highlighted is not None:
            return sidebar.highlighted
        for session in sidebar.sessions:
            if session["id"] == self.session_id:
                return session
        self.notify("No session selected.", severity="warning")
        return None

    def action_rename_session(self: ChatScreen) -> None:
        """Give the session a new title."""
        if not (session := self._target_session()):
            return

        def rename(title: str | None) -> None:
            if title:
                api_worker(
                    self,
                    lambda client: client.rename_session(session["id"], title),
                    lambda _: self.load_sessions(),
                    what="Renaming",
                )

        prompt = PromptScreen("Rename session", "New title", session.get("title") or "")
        self.app.push_screen(prompt, rename)

    def action_delete_session(self: ChatScreen) -> None:
        """Delete the session, its messages and their feedback (after asking)."""
        if not (session := self._target_session()):
            return
        count = session.get("messages", 0)
        question = (
            f"Delete “{session.get('title')}” with its {count} message"
            f"{'s' if count != 1 else ''} and their feedback? This cannot be undone."
        )

        def delete(yes: bool | None) -> None:
            if yes:
                api_worker(
                    self,
                    lambda client: client.delete_session(session["id"]),
                    partial(self._deleted, session["id"]),
                    what="Deleting",
                )

        self.app.push_screen(ConfirmScreen("Delete session", question), delete)

    async def _deleted(self: ChatScreen, session_id: str, _: dict) -> None:
        self.notify("Session deleted.")
        if session_id == self.session_id:
            await self.action_new_chat()
        else:
            self.load_sessions()

    def action_export_session(self: ChatScreen) -> None:
        """Write the session to a file (Markdown, or JSON for a .json path)."""
        if not (session := self._target_session()):
            return
        default = Path.cwd() / f"{slug(session.get('title') or session['id'])}.md"

        def export(path: str | None) -> None:
            if path:
                target = Path(path).expanduser().resolve()
                api_worker(
                    self,
                    partial(export_to_file, session_id=session["id"], target=target),
                    self._exported,
                    what="Exporting",
                )

        prompt = PromptScreen("Export session", "Write it to (.md or .json)", str(default))
        self.app.push_screen(prompt, export)

    def _exported(self: ChatScreen, outcome: tuple[Path, str]) -> None:
        target, error = outcome
        if error:
            self.notify(f"Could not write {target}: {error}", severity="error", markup=False)
        else:
            self.notify(f"Exported to {target}", title="Session exported", markup=False)

    def session_commands(self: ChatScreen) -> Iterable[SystemCommand]:
        run = self.run_action
        yield SystemCommand(
            "Sessions", "Show or hide the sidebar (Ctrl+B)", partial(run, "toggle_sidebar")
        )
        yield SystemCommand(
            "Search sessions", "Filter sessions by text (Ctrl+F)", partial(run, "search_sessions")
        )
        yield SystemCommand(
            "Rename session", "Give the session a new title", partial(run, "rename_session")
        )
        yield SystemCommand(
            "Delete session", "Delete the session (asks first)", partial(run, "delete_session")
        )
        yield SystemCommand(
            "Export session", "Write the session to a file", partial(run, "export_session")
        )


def slug(title: str) -> str:
    """A file name from a session title."""
    text = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()
    return text[:50] or "session"


def export_to_file(client: CoveClient, session_id: str, target: Path) -> tuple[Path, str]:
    """Export through the daemon and write the file; (path, "" or why it failed)."""
    fmt = "json" if target.suffix.lower() == ".json" else "md"
    content = client.export_session(session_id, fmt)
    if isinstance(content, dict):
        content = json.dumps(content, indent=2, ensure_ascii=False) + "\n"
    try:
        target.write_text(content, encoding="utf-8")
    except OSError as exc:
        return target, exc.strerror or str(exc)
    return target, ""
