"""The chat: questions and streamed answers, the selected answer's sources, sessions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, get_current_worker

from cove.daemon.client import ApiError, DaemonNotRunningError
from cove.tui.answers import Turn
from cove.tui.connection import Stream, describe
from cove.tui.screens.chat_sessions import SessionActions
from cove.tui.screens.chat_sources import SourceActions
from cove.tui.screens.correction import CorrectionScreen
from cove.tui.widgets.chat_input import ChatInput
from cove.tui.widgets.sessions import SessionsSidebar
from cove.tui.widgets.sources import SourcesPanel
from cove.tui.widgets.status_bar import StatusBar
from cove.tui.widgets.turn import TurnView
from cove.tui.work import DaemonLost, api_worker, cove_app

WELCOME = (
    "Ask about the files in your watched folders. Cove answers from them, with numbered "
    "sources, or says when they do not hold the answer.\n\n"
    "Enter sends · Ctrl+J new line · Shift+Tab to an answer to rate, copy or correct it · "
    "F3 library · F1 keys"
)


class ChatLog(VerticalScroll, can_focus=False):
    """The answers; not a focus stop of its own (its answers are)."""


@dataclass
class AnswerToken(Message):
    view: TurnView
    text: str


@dataclass
class SessionKnown(Message):
    """The daemon named the answer's session before its first token."""

    session_id: str


@dataclass
class AnswerDone(Message):
    view: TurnView
    result: dict


@dataclass
class AnswerEnded(Message):
    view: TurnView
    state: str  # stopped | failed
    error: str = ""


class ChatScreen(SessionActions, SourceActions, Screen[None]):
    """Asks in thread workers; tokens come back as messages and stream into Markdown."""

    CSS_PATH = "chat.tcss"
    AUTO_FOCUS = "#input"
    BINDINGS = [
        Binding("escape", "stop", "Stop", tooltip="Stop the answer being written", id="chat.stop"),
        Binding("ctrl+n", "new_chat", "New chat", tooltip="Start a new session", id="chat.new"),
        Binding(
            "ctrl+r",
            "retry",
            "Retry",
            show=False,
            tooltip="Ask the selected answer's question again",
            id="chat.retry",
        ),
        Binding(
            "ctrl+b",
            "toggle_sidebar",
            "Sessions",
            tooltip="Show or hide the sessions sidebar",
            id="chat.sidebar",
        ),
        Binding(
            "ctrl+f",
            "search_sessions",
            "Search",
            show=False,
            tooltip="Search the sessions (titles and messages)",
            id="chat.search",
        ),
    ]

    generating: reactive[bool] = reactive(False, bindings=True)

    def __init__(self) -> None:
        super().__init__()
        self.session_id: str | None = None
        self.selected: TurnView | None = None
        self._stream: Stream | None = None
        self._asking: Worker | None = None
        self._opened_initial = False

    def compose(self) -> ComposeResult:
        yield StatusBar("Chat")
        with Horizontal(id="main"):
            yield SessionsSidebar()
            with Vertical(id="conversation"):
                with ChatLog(id="log"):
                    yield Static(WELCOME, id="welcome", markup=False)
                yield SourcesPanel()
                yield ChatInput(id="input")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(SourcesPanel).display = False
        self.watch(self.app, "daemon", self._daemon_changed)

    def _daemon_changed(self, state: str) -> None:
        if state != "up":
            return
        self.load_sessions()
        initial = cove_app(self).initial_session_id
        if initial and not self._opened_initial:
            self._opened_initial = True
            self.open_session(initial)

    # --- asking -------------------------------------------------------------------

    async def on_chat_input_submitted(self, event: ChatInput.Submitted) -> None:
        if self.generating:
            self.notify("Cove is still answering: wait, or press Esc to stop it.")
            return
        self.query_one(ChatInput).clear()
        await self.ask(event.text)

    async def ask(self, question: str, general: bool = False) -> None:
        """Add a turn for `question` and stream its answer in a thread."""
        view = TurnView(Turn(question=question, session_id=self.session_id))
        if isinstance(self.focused, TurnView):
            # The keys act on the selected answer: the new one, not the one focused before.
            self.query_one(ChatInput).focus()
        self.query_one("#welcome").display = False
        log = self.query_one("#log", VerticalScroll)
        await log.mount(view)
        log.anchor()  # follow the answer as it grows (until the user scrolls up)
        self.select(view)
        self.generating = True
        self._asking = self.run_worker(
            partial(self._stream_answer, view, question, general),
            thread=True,
            group="ask",
            name="ask",
        )

    def _stream_answer(self, view: TurnView, question: str, general: bool) -> None:
        """In a thread: post the answer's events to the screen as they arrive."""
        app, worker = cove_app(self), get_current_worker()
        options = {**app.ask_options, "session_id": self.session_id}
        if general:
            options["general"] = True
        try:
            stream = app.connection.open_stream()
        except DaemonNotRunningError as exc:
            app.post_message(DaemonLost(describe(exc)))
            self.post_message(AnswerEnded(view, "failed", "the daemon is not running"))
            return
        self._stream = stream
        if worker.is_cancelled:
            stream.cut()  # Esc came before the stream existed
        try:
            for event, data in stream.client.ask_stream(question, **options):
                if worker.is_cancelled:
                    break  # leaving the stream closes it: the daemon stops generating
                self._post_event(view, event, data)
        except DaemonNotRunningError as exc:
            if not stream.cut_requested:
                app.post_message(DaemonLost(describe(exc)))
                self.post_message(AnswerEnded(view, "failed", "lost the daemon"))
        except (ApiError, ValueError) as exc:  # an error answer, or a reply that is not JSON
            self.post_message(AnswerEnded(view, "failed", describe(exc)))
        finally:
            app.connection.close_stream(stream)

    def _post_event(self, view: TurnView, event: str, data: dict | str) -> None:
        if event == "token" and isinstance(data, dict):
            self.post_message(AnswerToken(view, data.get("text", "")))
        elif event == "session" and isinstance(data, dict):
            self.post_message(SessionKnown(data.get("session_id", "")))
        elif event == "done" and isinstance(data, dict):
            self.post_message(AnswerDone(view, data))
        elif event == "error":
            error = data.get("error", {}) if isinstance(data, dict) else {}
            self.post_message(AnswerEnded(view, "failed", error.get("message", str(data))))

    def on_session_known(self, message: SessionKnown) -> None:
        # A stopped first answer still belongs to its session: the next question joins it.
        if message.session_id:
            self.session_id = message.session_id

    async def on_answer_token(self, message: AnswerToken) -> None:
        await message.view.append(message.text)

    async def on_answer_done(self, message: AnswerDone) -> None:
        if message.view.turn.state != "streaming":
            return  # stopped by the user meanwhile
        await message.view.finish(message.result)
        self.generating = False
        self.session_id = message.view.turn.session_id
        if message.view is self.selected:
            self.query_one(SourcesPanel).show_sources(message.view.turn.sources)
        self.load_sessions()  # a new session, or a new last activity

    async def on_answer_ended(self, message: AnswerEnded) -> None:
        if message.view.turn.state == "streaming":
            await message.view.end(message.state, message.error)
        self.generating = False

    async def action_stop(self) -> None:
        """Stop the answer being generated (the daemon stops at once)."""
        if not self.generating:
            return
        if self._stream is not None:
            self._stream.cut()
        if self._asking is not None:
            self._asking.cancel()
        for view in self.query(TurnView):
            if view.turn.state == "streaming":
                await view.end("stopped")
        self.generating = False
        self.notify("Stopped.")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "stop":
            return self.generating  # shown in the footer only while answering
        return True

    # --- the selected answer -----------------------------------------------------

    def on_turn_view_selected(self, message: TurnView.Selected) -> None:
        self.select(message.view)

    def select(self, view: TurnView) -> None:
        """Make `view` the answer the sources panel and the answer keys are about."""
        if self.selected is not None:
            self.selected.remove_class("-selected")
        self.selected = view
        view.add_class("-selected")
        self.query_one(SourcesPanel).show_sources(view.turn.sources)

    def _selected_turn(self, need_id: bool = False) -> Turn | None:
        turn = self.selected.turn if self.selected is not None else None
        if turn is None:
            self.notify("No answer selected: ask something first.", severity="warning")
            return None
        if need_id and not turn.message_id:
            self.notify("This answer was not kept, so it cannot be rated.", severity="warning")
            return None
        return turn

    def action_copy_answer(self) -> None:
        """Copy the selected answer to the clipboard."""
        if turn := self._selected_turn():
            self.app.copy_to_clipboard(turn.answer)
            self.notify("Copied the answer.")

    async def action_retry(self) -> None:
        """Ask the selected answer's question again, in the same session."""
        if (turn := self._selected_turn()) and not self.generating:
            await self.ask(turn.question)

    async def action_ask_general(self) -> None:
        """Ask the selected answer's question again, from general knowledge."""
        if (turn := self._selected_turn()) and not self.generating:
            await self.ask(turn.question, general=True)

    def action_rate(self, rating: str) -> None:
        """Rate the selected answer up or down."""
        if not (turn := self._selected_turn(need_id=True)):
            return
        message_id, view = turn.message_id, self.selected
        api_worker(
            self,
            lambda client: client.set_feedback(message_id, rating=rating),
            partial(self._feedback_saved, view, "Rated good." if rating == "up" else "Rated bad."),
            what="Rating",
        )

    def action_correct(self) -> None:
        """Write the answer you wanted (kept as a correction for fine-tuning)."""
        if not (turn := self._selected_turn(need_id=True)):
            return
        view, message_id = self.selected, turn.message_id
        current = (turn.feedback or {}).get("correction") or turn.answer

        def save(text: str | None) -> None:
            if text:
                api_worker(
                    self,
                    lambda client: client.set_feedback(message_id, correction=text),
                    partial(self._feedback_saved, view, "Correction saved."),
                    what="Correction",
                )

        self.app.push_screen(CorrectionScreen(turn.question, current), save)

    def action_clear_feedback(self) -> None:
        """Remove the selected answer's rating and correction."""
        if not (turn := self._selected_turn(need_id=True)):
            return
        message_id, view = turn.message_id, self.selected

        def cleared(_: dict) -> None:
            if view is not None:
                view.turn.feedback = None
                view.refresh_labels()
            self.notify("Feedback cleared.")

        api_worker(self, lambda c: c.clear_feedback(message_id), cleared, what="Clearing")

    def _feedback_saved(self, view: TurnView | None, note: str, doc: dict) -> None:
        if view is not None:
            view.turn.feedback = doc.get("feedback")
            view.refresh_labels()
        self.notify(note)

    # --- palette ----------------------------------------------------------------------

    def commands(self) -> Iterable[SystemCommand]:
        """The chat's actions for the command palette."""
        run = self.run_action
        yield SystemCommand("New chat", "Start a new session (Ctrl+N)", partial(run, "new_chat"))
        yield SystemCommand("Stop", "Stop the answer being written (Esc)", partial(run, "stop"))
        yield SystemCommand("Retry", "Ask the selected question again", partial(run, "retry"))
        yield SystemCommand("Copy answer", "Copy the selected answer", partial(run, "copy_answer"))
        yield SystemCommand("Rate good", "Rate the selected answer up", partial(run, "rate('up')"))
        yield SystemCommand(
            "Rate bad", "Rate the selected answer down", partial(run, "rate('down')")
        )
        yield SystemCommand(
            "Correct answer", "Write the answer you wanted", partial(run, "correct")
        )
        yield SystemCommand(
            "Clear feedback", "Remove rating and correction", partial(run, "clear_feedback")
        )
        yield SystemCommand(
            "Ask from general knowledge",
            "Ask the selected question again, not from your documents",
            partial(run, "ask_general"),
        )
        yield SystemCommand(
            "Sources", "Go to the selected answer's sources", partial(run, "focus_sources")
        )
        yield SystemCommand(
            "Show source in context",
            "Lines around the highlighted source",
            partial(run, "show_source"),
        )
        yield SystemCommand(
            "Open source in editor",
            "Open the highlighted source in $EDITOR",
            partial(run, "open_source"),
        )
        yield from self.session_commands()
