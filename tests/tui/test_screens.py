"""The daemon coming up and going away under a running TUI, snapshots of the main screens,
help and the palette. A fresh daemon (no folders, no sessions) keeps the screens
deterministic; the first test starts it while the TUI watches, the last one stops it."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Switch, TextArea

from cove.tui.app import LIGHT_THEME
from cove.tui.screens.help import HelpScreen
from cove.tui.screens.library import LibraryScreen
from cove.tui.screens.memories import MemoriesScreen
from cove.tui.screens.training import TrainingScreen
from cove.tui.widgets.status_bar import StatusBar
from cove.tui.widgets.turn import TurnView
from tests.support.daemon import RunningDaemon, start_daemon
from tests.tui.conftest import SEEDED, daemon_up, make_app, noted, run, wait_for

pytestmark = pytest.mark.slow  # real daemon processes (make test-fast skips them)


@pytest.fixture(scope="module")
def fresh_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fresh-home")


@pytest.fixture(scope="module")
def fresh(fresh_home: Path) -> RunningDaemon:
    """The daemon of `fresh_home`, started when a test first asks for it."""
    daemon = start_daemon(fresh_home)
    yield daemon
    daemon.stop()


async def quiet(pilot: Pilot) -> None:
    """Wait for every API call in flight (the index event stream never ends)."""
    await wait_for(
        pilot,
        lambda: all(w.is_finished or w.group == "index-events" for w in pilot.app.workers),
        10,
        "the workers",
    )
    await pilot.pause(0.2)


async def settled(pilot: Pilot) -> None:
    """Wait until the first status is in, and stop the cursor blinking (a blink is not a
    change worth a snapshot)."""
    await wait_for(pilot, lambda: pilot.app.daemon != "unknown", 30, "the first status")
    for area in pilot.app.query(TextArea):
        area.cursor_blink = False
    await quiet(pilot)


def on_screen(kind: type, ready=lambda screen: True):
    """A run_before that opens nothing but waits for a `kind` screen to be ready."""

    async def wait(pilot: Pilot) -> None:
        await settled(pilot)
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, kind), 10, kind.__name__)
        await wait_for(pilot, lambda: ready(pilot.app.screen), 10, f"{kind.__name__} data")
        await quiet(pilot)

    return wait


# --- the daemon coming up (first: it starts the module's daemon) ----------------------------


def test_the_tui_finds_the_daemon_when_it_starts(
    fresh_home: Path, request: pytest.FixtureRequest
) -> None:
    app = make_app(fresh_home)

    def bar_text() -> str:
        return str(app.screen.query_one(StatusBar).render())

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await wait_for(pilot, lambda: app.daemon == "down", 15, "down")
            assert "daemon down" in bar_text()
            assert noted(app, "The Cove daemon is not running")

            request.getfixturevalue("fresh")  # `cove start` while the TUI keeps polling
            await wait_for(pilot, lambda: app.daemon == "up", 30, "up")
            assert noted(app, "The Cove daemon is back")
            assert "up · smollm2" in bar_text()

    run(scenario)


# --- snapshots --------------------------------------------------------------------------


def test_snapshot_empty_chat(fresh: RunningDaemon, snap_compare) -> None:
    assert snap_compare(make_app(fresh.home), run_before=settled)


def test_snapshot_empty_chat_light(fresh: RunningDaemon, snap_compare) -> None:
    assert snap_compare(make_app(fresh.home, theme=LIGHT_THEME), run_before=settled)


def test_snapshot_help(fresh: RunningDaemon, snap_compare) -> None:
    assert snap_compare(make_app(fresh.home), press=["f1"], run_before=settled)


def test_snapshot_empty_library(fresh: RunningDaemon, snap_compare) -> None:
    async def library(pilot: Pilot) -> None:
        await settled(pilot)
        await pilot.press("f3")
        await on_screen(LibraryScreen, lambda screen: screen.index_status)(pilot)

    assert snap_compare(make_app(fresh.home), run_before=library)


def test_snapshot_training_with_nothing_trained(fresh: RunningDaemon, snap_compare) -> None:
    async def training(pilot: Pilot) -> None:
        await settled(pilot)
        await pilot.press("f4")
        await on_screen(TrainingScreen, lambda screen: screen.state is not None)(pilot)
        state = pilot.app.screen.state
        assert state.available and state.empty and not state.schedule.enabled

    assert snap_compare(make_app(fresh.home), run_before=training)


def test_snapshot_memories_with_nothing_taught(fresh: RunningDaemon, snap_compare) -> None:
    async def memories(pilot: Pilot) -> None:
        await settled(pilot)
        await pilot.press("f5")
        await on_screen(MemoriesScreen, lambda screen: screen.memories is not None)(pilot)
        assert pilot.app.screen.query_one("#no-memories").display

    assert snap_compare(make_app(fresh.home), run_before=memories)


def test_training_schedule_turns_on_and_off_from_the_screen(fresh: RunningDaemon) -> None:
    """t turns the nightly run on (at 02:00, the schedule having no time) and off again,
    as the daemon's own document says."""
    app = make_app(fresh.home)

    def schedule() -> dict:
        with fresh.client() as client:
            return client.train_status()["schedule"]

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await daemon_up(pilot)
            await pilot.press("f4")
            await on_screen(TrainingScreen, lambda screen: screen.state is not None)(pilot)
            screen = app.screen
            titles = {command.title for command in app.get_system_commands(screen)}
            assert {"Train now", "Schedule on/off", "Set training time"} <= titles
            assert "Cancel training run" not in titles and "Activate adapter" not in titles
            switch = screen.query_one("#schedule-on", Switch)
            assert not switch.value
            await pilot.press("t")
            await wait_for(pilot, lambda: noted(app, "Training every night at 02:00"), 10)
            on = schedule()
            assert (on["enabled"], on["time"]) == (True, "02:00") and on["next_run"]
            await wait_for(pilot, lambda: screen.state.schedule.enabled, 10, "the reload")
            assert switch.value
            assert "every night at 02:00" in str(screen.query_one("#schedule-text").render())

            await pilot.press("t")
            await wait_for(pilot, lambda: noted(app, "Nightly training is off"), 10)
            assert schedule()["enabled"] is False
            await wait_for(pilot, lambda: not screen.state.schedule.enabled, 10, "the reload")
            assert not switch.value

    run(scenario)


def test_snapshot_chat_with_the_daemon_down(tmp_path: Path, snap_compare) -> None:
    assert snap_compare(make_app(tmp_path / "no-daemon"), run_before=settled)


# --- keys and palette ------------------------------------------------------------------


def test_help_keys(tmp_path: Path) -> None:
    """F1 opens help from anywhere; ? only outside text fields (there it is typed)."""
    app = make_app(tmp_path)

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("f1")
            assert isinstance(app.screen, HelpScreen)
            await pilot.press("escape")
            await pilot.press("question_mark")
            assert not isinstance(app.screen, HelpScreen)
            assert app.focused.text == "?"  # typed into the question
            await pilot.press("shift+tab")  # out of the input, to the chat log
            assert not isinstance(app.focused, TextArea | Input)
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)

    run(scenario)


async def palette(pilot: Pilot, search: str) -> None:
    """Run the palette's best match for `search`."""
    await pilot.press("ctrl+p", *search)
    await pilot.pause(0.5)
    await pilot.press("enter")


def test_every_action_is_in_the_palette(tmp_path: Path) -> None:
    app = make_app(tmp_path)

    def titles() -> set[str]:
        return {command.title for command in app.get_system_commands(app.screen)}

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            assert {
                "New chat", "Stop", "Retry", "Copy answer", "Rate good", "Rate bad",
                "Correct answer", "Clear feedback", "Ask from general knowledge",
                "Show source in context", "Open source in editor", "Sessions",
                "Search sessions", "Rename session", "Delete session", "Export session",
                "Chat", "Library", "Training", "Memories", "Help", "Toggle light/dark theme",
                "Quit",
            } <= titles()  # fmt: skip
            await pilot.press("f3")
            assert {"Add folder", "Remove folder", "Pause or resume indexing"} <= titles()
            await pilot.press("f4")
            assert "Reload training" in titles()
            await pilot.press("f5")
            assert {"Add memory", "Forget memory", "Search memories"} <= titles()

            # Run an app command and a screen action through the palette itself.
            await pilot.press("f2")
            assert app.current_theme.dark
            await palette(pilot, "toggle light")
            await wait_for(pilot, lambda: not app.current_theme.dark, 5, "the light theme")
            sidebar = app.screen.query_one("#sidebar")
            assert sidebar.display
            await palette(pilot, "sessions")
            await wait_for(pilot, lambda: not sidebar.display, 5, "the sidebar hidden")

    run(scenario)


# --- the daemon going away (last: it stops the module's daemon) ---------------------------


def test_the_tui_says_when_the_daemon_goes_away(fresh: RunningDaemon) -> None:
    app = make_app(fresh.home, ask_options={"max_tokens": 8, **SEEDED})

    def bar_text() -> str:
        return str(app.screen.query_one(StatusBar).render())

    async def ask(pilot: Pilot, question: str) -> TurnView:
        await pilot.press(*question, "enter")
        view = await wait_for(
            pilot, lambda: app.screen.query(TurnView) and app.screen.query(TurnView).last(), 5
        )
        await wait_for(pilot, lambda: view.turn.state != "streaming", 60, "the answer")
        return view

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await daemon_up(pilot)
            # With no folders the answer is general knowledge, and says so.
            view = await ask(pilot, "What colour is the sky?")
            assert view.turn.kind == "general"
            assert "General knowledge" in str(view.query_one(".badge").render())

            fresh.stop()
            await wait_for(pilot, lambda: app.daemon == "down", 15, "down")
            assert "daemon down" in bar_text()
            assert noted(app, "Lost the Cove daemon")
            view = await ask(pilot, "And at night?")
            assert view.turn.kind == "failed"
            assert "not running" in str(view.query_one(".badge").render())

    run(scenario)
