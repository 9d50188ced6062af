"""The chat screen against a real daemon: streamed answers, sources, feedback, stop."""

from __future__ import annotations

import pytest
from textual.widgets import Markdown

from cove.tui.screens.correction import CorrectionScreen
from cove.tui.screens.snippet import SnippetScreen
from cove.tui.widgets.chat_input import ChatInput
from cove.tui.widgets.sources import SourcesPanel
from cove.tui.widgets.turn import TurnView
from tests.support.daemon import RunningDaemon
from tests.tui.conftest import QUESTION, SEEDED, daemon_up, make_app, noted, run, wait_for


def turns(app) -> list[TurnView]:
    return list(app.screen.query(TurnView))


async def focus(pilot, widget_type: type, presses: int = 6) -> None:
    """Tab backwards (as a user would) until a `widget_type` has focus."""
    for _ in range(presses):
        if isinstance(pilot.app.focused, widget_type):
            return
        await pilot.press("shift+tab")
    assert isinstance(pilot.app.focused, widget_type), pilot.app.focused


@pytest.fixture(scope="module")
def asked(kb_daemon: RunningDaemon) -> dict:
    """A stored grounded answer, asked through the API."""
    with kb_daemon.client() as client:
        return client.ask(QUESTION, **SEEDED)


def test_question_streams_a_grounded_answer_with_its_sources(kb_daemon: RunningDaemon) -> None:
    app = make_app(kb_daemon.home, ask_options=SEEDED)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await daemon_up(pilot)
            assert isinstance(app.focused, ChatInput)  # the input has focus at start
            await pilot.press(*QUESTION)
            await pilot.press("ctrl+j")  # a newline, not a send
            assert turns(app) == [] and app.focused.text == QUESTION + "\n"
            await pilot.press("backspace", "enter")
            view = await wait_for(pilot, lambda: turns(app) and turns(app)[0], 10, "a turn")
            await wait_for(pilot, lambda: view.turn.state != "streaming", 120, "the answer")

            assert view.turn.state == "done" and view.turn.kind == "grounded"
            assert view.tokens_seen > 1  # it arrived in pieces
            assert view.turn.answer.strip()
            assert view.query_one(Markdown).source == view.turn.answer
            assert not view.query_one(".badge").display  # nothing to warn about
            assert app.focused.text == ""  # the input was emptied

            panel = app.screen.query_one(SourcesPanel)
            assert panel.display and panel.sources == view.turn.sources
            assert "skerry.md" in str(panel.get_option_at_index(0).prompt)

            # The daemon kept what the screen shows.
            with kb_daemon.client() as client:
                stored = client.session(view.turn.session_id)["messages"][-1]
            assert stored["id"] == view.turn.message_id
            assert stored["content"] == view.turn.answer

            # A source in context: read through the daemon, shown in a modal.
            await focus(pilot, SourcesPanel)
            await pilot.press("enter")
            snippet = await wait_for(
                pilot, lambda: isinstance(app.screen, SnippetScreen) and app.screen, 10
            )
            assert "built by the engineer Ada Quill" in snippet.text
            await pilot.press("escape")

            # Copy the answer.
            await focus(pilot, TurnView)
            await pilot.press("c")
            assert app.clipboard == view.turn.answer

    run(scenario)


def test_feedback_from_the_keys_is_recorded(kb_daemon: RunningDaemon, asked: dict) -> None:
    app = make_app(kb_daemon.home, session_id=asked["session_id"])
    message_id = asked["message_id"]

    def feedback() -> dict | None:
        with kb_daemon.client() as client:
            return client.message(message_id)["message"]["feedback"]

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await daemon_up(pilot)
            view = await wait_for(pilot, lambda: turns(app) and turns(app)[-1], 10, "session")
            assert view.turn.message_id == message_id  # --session opened the stored answer
            await focus(pilot, TurnView)
            await pilot.press("plus")
            await wait_for(pilot, lambda: view.turn.feedback, 10, "the rating")
            assert feedback()["rating"] == "up"
            assert "rated good" in str(view.query_one(".meta").render())

            await pilot.press("e")
            editor = await wait_for(
                pilot, lambda: isinstance(app.screen, CorrectionScreen) and app.screen, 10
            )
            editor.query_one("#correction-text").text = "Ada Quill built it in 1871."
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: (view.turn.feedback or {}).get("correction"), 10)
            assert feedback()["rating"] == "up"  # a correction keeps the rating
            assert feedback()["correction"] == "Ada Quill built it in 1871."

            await pilot.press("minus")
            await wait_for(pilot, lambda: view.turn.feedback["rating"] == "down", 10)
            assert feedback()["rating"] == "down"

    run(scenario)


def test_stop_ends_the_generation_in_the_daemon(kb_daemon: RunningDaemon) -> None:
    # A long general-knowledge answer, so there is something to stop.
    app = make_app(kb_daemon.home, ask_options={"general": True, "max_tokens": 400, **SEEDED})
    with kb_daemon.client() as client:
        cancelled_before = client.status()["runtime"]["cancelled_total"]

    def cancelled() -> int:
        with kb_daemon.client() as client:
            return client.status()["runtime"]["cancelled_total"]

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await daemon_up(pilot)
            await pilot.press(*"Write a long story about a lighthouse keeper.", "enter")
            view = await wait_for(pilot, lambda: turns(app) and turns(app)[0], 10, "a turn")
            await wait_for(pilot, lambda: view.tokens_seen >= 2, 60, "the first tokens")
            await pilot.press("escape")
            assert view.turn.state == "stopped" and not app.screen.generating
            assert "Stopped" in str(view.query_one(".badge").render())
            await wait_for(pilot, lambda: cancelled() > cancelled_before, 15, "the cancel")
            seen = view.tokens_seen
            await pilot.pause(0.5)
            assert view.tokens_seen == seen  # nothing more arrives
            assert noted(app, "Stopped")

    run(scenario)
