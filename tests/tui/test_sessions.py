"""The sessions sidebar against a real daemon: search, switch, rename, export, delete."""

from __future__ import annotations

import pytest

from cove.daemon.client import ApiError
from cove.tui.screens.confirm import ConfirmScreen
from cove.tui.screens.prompt import PromptScreen
from cove.tui.widgets.chat_input import ChatInput
from cove.tui.widgets.sessions import SessionList, SessionsSidebar
from cove.tui.widgets.turn import TurnView
from tests.support.daemon import RunningDaemon
from tests.tui.conftest import daemon_up, make_app, noted, run, wait_for

# Nothing in the watched folder is about these: Cove says it doesn't know, without
# running the model (fast), and that answer must look different.
PERU = "What is the capital of Peru?"
PENGUINS = "Where do emperor penguins raise their chicks?"


@pytest.fixture(scope="module")
def two_sessions(kb_daemon: RunningDaemon) -> dict[str, str]:
    """question -> session id."""
    with kb_daemon.client() as client:
        return {q: client.ask(q)["session_id"] for q in (PERU, PENGUINS)}


def listed(app) -> list[str]:
    return [s["id"] for s in app.screen.query_one(SessionsSidebar).sessions]


async def search(pilot, text: str) -> None:
    await pilot.press("ctrl+f")
    field = pilot.app.screen.query_one("#session-filter")
    field.value = ""
    await pilot.press(*text)


async def choose(pilot, session_id: str) -> None:
    """Highlight `session_id` in the list and press Enter on it."""
    app = pilot.app
    await wait_for(pilot, lambda: session_id in listed(app), 10, f"{session_id} listed")
    listing = app.screen.query_one(SessionList)
    listing.focus()
    listing.index = listed(app).index(session_id)
    await pilot.press("enter")


def shown_questions(app) -> list[str]:
    return [view.turn.question for view in app.screen.query(TurnView)]


def test_switch_between_sessions(kb_daemon: RunningDaemon, two_sessions: dict) -> None:
    app = make_app(kb_daemon.home)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await daemon_up(pilot)
            await choose(pilot, two_sessions[PERU])
            await wait_for(pilot, lambda: shown_questions(app) == [PERU], 10, "Peru")
            view = app.screen.query_one(TurnView)
            assert view.turn.kind == "unknown" and view.has_class("-unknown")
            assert "Not in your documents" in str(view.query_one(".badge").render())

            await choose(pilot, two_sessions[PENGUINS])
            await wait_for(pilot, lambda: shown_questions(app) == [PENGUINS], 10, "penguins")
            assert app.screen.session_id == two_sessions[PENGUINS]

            await pilot.press("ctrl+n")  # a new chat: empty, the next question starts it
            await wait_for(pilot, lambda: shown_questions(app) == [], 5, "an empty chat")
            assert app.screen.session_id is None
            assert app.screen.query_one("#welcome").display
            assert isinstance(app.focused, ChatInput)

    run(scenario)


def test_search_rename_export_and_delete(
    kb_daemon: RunningDaemon, two_sessions: dict, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the export's default place
    app = make_app(kb_daemon.home)
    peru = two_sessions[PERU]

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await daemon_up(pilot)
            await search(pilot, "capital of Peru")
            await wait_for(pilot, lambda: listed(app) == [peru], 10, "the search result")

            await choose(pilot, peru)
            await pilot.press("r")
            prompt = await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen), 5)
            assert prompt
            app.screen.query_one("#prompt-input").value = ""
            await pilot.press(*"Peru questions", "enter")
            with kb_daemon.client() as client:
                await wait_for(
                    pilot,
                    lambda: client.session(peru)["session"]["title"] == "Peru questions",
                    10,
                    "the rename",
                )

            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen), 5)
            await pilot.press("enter")  # the default: a file in the current directory
            exported = tmp_path / "peru-questions.md"
            await wait_for(pilot, exported.exists, 10, "the export")
            assert PERU in exported.read_text()
            assert noted(app, f"Exported to {exported}")

            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5)
            await pilot.press("y")
            await wait_for(pilot, lambda: peru not in listed(app), 10, "the deletion")
            with kb_daemon.client() as client, pytest.raises(ApiError) as missing:
                client.session(peru)
            assert missing.value.status == 404
            assert shown_questions(app) == []  # the open session went with it

    run(scenario)
