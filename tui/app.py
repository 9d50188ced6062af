"""The Cove terminal UI: chat, library, training and memories screens over the daemon's
API."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import Screen

from cove.daemon.client import ApiError, DaemonNotRunningError
from cove.tui.connection import ClientFactory, Connection, describe
from cove.tui.keys import bindings
from cove.tui.screens.chat import ChatScreen
from cove.tui.screens.help import HelpScreen
from cove.tui.screens.library import LibraryScreen
from cove.tui.screens.memories import MemoriesScreen
from cove.tui.screens.training import TrainingScreen
from cove.tui.widgets.sessions import SessionList
from cove.tui.widgets.sources import SourcesPanel
from cove.tui.widgets.turn import TurnView
from cove.tui.work import DaemonLost

DARK_THEME = "textual-dark"
LIGHT_THEME = "textual-light"


class CoveApp(App[None]):
    """Cove's TUI. Talks to the daemon only through CoveClients from `client_factory`."""

    TITLE = "Cove"
    CSS_PATH = "app.tcss"
    MODES = {
        "chat": ChatScreen,
        "library": LibraryScreen,
        "training": TrainingScreen,
        "memories": MemoriesScreen,
    }
    DEFAULT_MODE = "chat"
    BINDINGS = [
        Binding("f1", "help", "Help", priority=True, tooltip="This list of keys", id="app.help"),
        # `?` only reaches the app outside text fields: Input and TextArea consume it.
        Binding(
            "question_mark",
            "help",
            "Help",
            show=False,
            tooltip="This list of keys (outside text fields)",
            id="app.help_question",
        ),
        Binding("f2", "switch_mode('chat')", "Chat", tooltip="The chat screen", id="app.chat"),
        Binding(
            "f3",
            "switch_mode('library')",
            "Library",
            tooltip="Watched folders, indexing progress and errors",
            id="app.library",
        ),
        Binding(
            "f4",
            "switch_mode('training')",
            "Training",
            tooltip="Personal fine-tuning: schedule, runs, adapters",
            id="app.training",
        ),
        Binding(
            "f5",
            "switch_mode('memories')",
            "Memories",
            tooltip="What you taught Cove: search, add, forget",
            id="app.memories",
        ),
        Binding(
            "ctrl+t",
            "toggle_theme",
            "Theme",
            show=False,
            tooltip="Switch between the light and the dark theme",
            id="app.theme",
        ),
    ]

    # unknown (not asked yet) | up | down
    daemon: reactive[str] = reactive("unknown")
    # The last `status()` document while the daemon is up.
    status: reactive[dict | None] = reactive(None)

    def __init__(
        self,
        client_factory: ClientFactory,
        *,
        session_id: str | None = None,
        ask_options: dict[str, Any] | None = None,
        poll_interval: float = 3.0,
        theme: str = DARK_THEME,
    ) -> None:
        """`ask_options` go with every question (e.g. temperature and seed for tests);
        `session_id` opens that session in the chat at start."""
        super().__init__()
        self.connection = Connection(client_factory)
        self.initial_session_id = session_id
        self.ask_options = dict(ask_options or {})
        self.poll_interval = poll_interval
        self.theme = theme

    # --- daemon status ------------------------------------------------------------

    def on_mount(self) -> None:
        self.set_interval(self.poll_interval, self.poll_status)
        self.poll_status()

    def on_unmount(self) -> None:
        # Unblocks the threads still reading streams, so the app can exit at once.
        self.connection.close()

    def poll_status(self) -> None:
        """Ask the daemon for its status in a thread (the previous ask is dropped)."""
        self.run_worker(
            self._fetch_status, thread=True, exclusive=True, group="status", name="status"
        )

    def _fetch_status(self) -> None:
        try:
            status = self.connection.call(lambda client: client.status())
        except (DaemonNotRunningError, ApiError) as exc:
            self.post_message(DaemonLost(describe(exc)))
            return
        if self.is_running:
            self.call_from_thread(self.daemon_found, status)

    def daemon_found(self, status: dict) -> None:
        """The daemon answered: show its status; say so if it was away."""
        self.status = status
        if self.daemon == "down":
            self.notify("The Cove daemon is back.", title="Daemon up")
        self.daemon = "up"

    def on_daemon_lost(self, message: DaemonLost) -> None:
        if self.daemon == "up":
            self.notify(
                f"Lost the Cove daemon ({message.reason}). Retrying every "
                f"{self.poll_interval:g} s.",
                title="Daemon down",
                severity="error",
                markup=False,
            )
        elif self.daemon == "unknown":
            self.notify(
                "The Cove daemon is not running. Start it with `cove start`; Cove keeps trying.",
                title="Daemon down",
                severity="error",
                markup=False,
            )
        self.daemon = "down"

    # --- actions ------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # The footer has no room to offer the screen you are on.
        return not (action == "switch_mode" and parameters[:1] == (self.current_mode,))

    def action_help(self) -> None:
        """Show the keys (F1, or ? outside text fields)."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(key_sections()))

    def action_toggle_theme(self) -> None:
        """Switch between the light and the dark theme."""
        self.theme = LIGHT_THEME if self.current_theme.dark else DARK_THEME

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Every action of the current screen, then the app's own."""
        commands = getattr(screen, "commands", None)
        if commands is not None:
            yield from commands()
        yield SystemCommand("Chat", "Ask questions about your documents (F2)", self._chat)
        yield SystemCommand("Library", "Watched folders and indexing (F3)", self._library)
        yield SystemCommand("Training", "Personal fine-tuning (F4)", self._training)
        yield SystemCommand("Memories", "What you taught Cove (F5)", self._memories)
        yield SystemCommand("Help", "Show the keys (F1)", self.action_help)
        yield SystemCommand(
            "Toggle light/dark theme", "Switch the theme (Ctrl+T)", self.action_toggle_theme
        )
        yield from super().get_system_commands(screen)

    def _chat(self) -> None:
        self.switch_mode("chat")

    def _library(self) -> None:
        self.switch_mode("library")

    def _training(self) -> None:
        self.switch_mode("training")

    def _memories(self) -> None:
        self.switch_mode("memories")


def key_sections() -> list[tuple[str, list[tuple[str, str]]]]:
    """(place, [(keys, action)]) for every place in the TUI: what the help screen shows."""
    return [
        (
            "Everywhere",
            [
                ("Ctrl+P", "Command palette: every action, searchable"),
                *bindings(CoveApp),
                ("Ctrl+Q", "Quit"),
            ],
        ),
        (
            "Chat",
            [("Enter", "Send the question"), ("Ctrl+J", "New line in the question")]
            + bindings(ChatScreen),
        ),
        ("An answer (Shift+Tab from the question, or a click)", bindings(TurnView)),
        ("Sources of the selected answer", bindings(SourcesPanel)),
        ("Sessions list", bindings(SessionList)),
        ("Library", bindings(LibraryScreen)),
        ("Training", bindings(TrainingScreen)),
        ("Memories", bindings(MemoriesScreen)),
    ]
