"""What the user taught Cove, in the TUI: the memories panel (F5) against a real daemon,
memory sources in the chat, and the band on an answer learned from the user."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Input, TextArea

from cove.daemon.client import ApiError
from cove.tui.answers import Turn, told_you
from cove.tui.memories import (
    cell_widths,
    count_text,
    forget,
    forgotten_note,
    matching,
    memory_details,
    memory_row,
)
from cove.tui.screens.confirm import ConfirmScreen
from cove.tui.screens.memories import MemoriesScreen
from cove.tui.screens.remember import RememberScreen
from cove.tui.screens.snippet import SnippetScreen
from cove.tui.widgets.sources import SourcesPanel
from cove.tui.widgets.turn import TurnView
from tests.support.daemon import RunningDaemon, start_daemon
from tests.tui.conftest import SEEDED, daemon_up, make_app, noted, run, wait_for

BOAT = ("What is the name of my boat?", "Your boat is called the Gull Wing.")
DENTIST = ("When is my dentist appointment?", "On Tuesday at ten in the morning.")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> RunningDaemon:
    """A daemon of its own: memories taught here must not reach the other modules'
    answers (no folders: the memories are all there is to ground an answer on)."""
    running = start_daemon(tmp_path_factory.mktemp("memories-home"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def boat(daemon: RunningDaemon) -> dict:
    """Two memories taught with the CLI; returns the boat's, as the API lists it."""
    for question, answer in (BOAT, DENTIST):
        done = daemon.cove("teach", question, answer)
        assert done.returncode == 0, done.stderr
    with daemon.client() as client:
        return next(m for m in client.memories()["memories"] if m["question"] == BOAT[0])


TAUGHT = datetime(2026, 12, 3, 14, 2).timestamp()
MEMORY = {
    "id": "mem_0123456789ab",
    "question": BOAT[0],
    "answer": BOAT[1],
    "path": "/home/cove/teach/cove-teach.jsonl",
    "line": 3,
    "taught_at": TAUGHT,
    "kind": "teach",
    "message_id": None,
}


# --- the panel's plain parts -------------------------------------------------------------


def test_memory_rows_and_details() -> None:
    now = datetime(2026, 12, 3, 18, 0)
    long = {**MEMORY, "answer": "Your boat is called the Gull Wing.\nIt is a blue sloop."}
    assert memory_row(long, (12, 20), now) == (
        "What is the…",
        "Your boat is called…",
        "today 14:02",
        "taught",
    )
    assert memory_details(MEMORY, now).splitlines() == [
        "Q: What is the name of my boat?",
        "A: Your boat is called the Gull Wing.",
        "taught today 14:02 · /home/cove/teach/cove-teach.jsonl line 3",
    ]
    correction = {**MEMORY, "kind": "correction", "path": "", "line": 0, "message_id": "m_1"}
    assert memory_row(correction, (40, 40), now)[3] == "correction"
    assert memory_details(correction, now).endswith("corrected in the chat today 14:02")
    assert cell_widths(98) == (24, 38) and cell_widths(10) == (12, 18)
    assert (count_text(1, ""), count_text(2, "boat")) == ("1 memory", "2 memories close to “boat”")


def test_search_keeps_memories_close_in_meaning_or_sharing_a_word() -> None:
    def hit(memory_id: str, dense: float, keyword: float) -> dict:
        return {"memory": {**MEMORY, "id": memory_id}, "dense": dense, "keyword": keyword}

    results = [hit("close", 0.8, 0.0), hit("word", 0.1, 0.5), hit("far", 0.2, 0.0)]
    assert [m["id"] for m in matching(results)] == ["close", "word"]


class Forgets:
    """Stands in for CoveClient.forget_memory."""

    def __init__(self, error: ApiError | None = None) -> None:
        self.error = error

    def forget_memory(self, memory_id: str) -> dict:
        if self.error:
            raise self.error
        return {"forgotten": MEMORY, "adapters_trained_on_it": []}


def test_forgetting_names_the_adapters_that_still_know_it() -> None:
    assert forget(Forgets(), MEMORY["id"])["forgotten"] == MEMORY
    gone = ApiError(404, "no memory", "memory_not_found")
    assert forget(Forgets(gone), MEMORY["id"]) is None  # forgotten already
    with pytest.raises(ApiError):
        forget(Forgets(ApiError(500, "boom", "internal")), MEMORY["id"])

    note, severity = forgotten_note({"forgotten": MEMORY, "adapters_trained_on_it": []})
    assert note == "Forgot “What is the name of my boat?”: answers no longer use it."
    assert severity == "information"
    note, severity = forgotten_note({"forgotten": MEMORY, "adapters_trained_on_it": ["a_1"]})
    assert "Adapter a_1 was trained on it" in note and "cove adapters delete a_1" in note
    assert "Training, F4" in note and severity == "warning"
    note, _ = forgotten_note({"forgotten": MEMORY, "adapters_trained_on_it": ["a_1", "a_2"]})
    assert "Adapters a_1, a_2 were trained on it" in note


# --- the panel, against a real daemon ----------------------------------------------------


def memory_rows(screen: MemoriesScreen) -> dict[str, list]:
    table = screen.query_one(DataTable)
    return {str(key.value): table.get_row(key) for key in table.rows}


async def open_memories(pilot) -> MemoriesScreen:
    """F5, then wait for the first list from the daemon."""
    await daemon_up(pilot)
    await pilot.press("f5")
    return await wait_for(
        pilot,
        lambda: (
            isinstance(pilot.app.screen, MemoriesScreen)
            and pilot.app.screen.memories is not None
            and pilot.app.screen
        ),
        10,
        "the memories",
    )


def test_f5_lists_memories_taught_with_the_cli_and_searches_them(
    daemon: RunningDaemon, boat: dict
) -> None:
    app = make_app(daemon.home)

    async def scenario() -> None:
        async with app.run_test(size=(120, 30)) as pilot:  # wide enough for whole cells
            screen = await open_memories(pilot)
            rows = await wait_for(
                pilot, lambda: len(memory_rows(screen)) >= 2 and memory_rows(screen)
            )
            question, answer, _taught, kind = rows[boat["id"]]
            assert (question, answer, kind) == (*BOAT, "taught")
            assert not screen.query_one("#no-memories").display

            # The highlighted memory, whole, under the table.
            screen.query_one(DataTable).move_cursor(row=list(rows).index(boat["id"]))
            await pilot.pause()
            detail = str(screen.query_one("#memory-detail").render())
            assert BOAT[1] in detail and f"{boat['path']} line {boat['line']}" in detail

            # Search by meaning: the boat comes first for a question about it.
            await pilot.press("ctrl+f")
            assert isinstance(app.focused, Input)
            await pilot.press(*"boat name")
            # Each keystroke searches: wait for the search of the whole query, not "boat n".
            await wait_for(
                pilot,
                lambda: (
                    str(screen.query_one("#memory-count").render())
                    == count_text(len(screen.memories), "boat name")
                ),
            )
            assert screen.memories[0]["id"] == boat["id"]
            count = str(screen.query_one("#memory-count").render())
            assert count == count_text(len(screen.memories), "boat name")
            await pilot.press("enter")  # to the results
            assert isinstance(app.focused, DataTable)

    run(scenario)


def test_a_memory_added_in_the_modal_is_written_and_forgotten_after_asking(
    daemon: RunningDaemon,
) -> None:
    app = make_app(daemon.home)
    question, answer = "Where do I keep the spare key?", "Under the blue flowerpot."

    def stored() -> list[dict]:
        with daemon.client() as client:
            return [m for m in client.memories()["memories"] if m["question"] == question]

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            screen = await open_memories(pilot)
            await pilot.press("a")
            modal = await wait_for(
                pilot, lambda: isinstance(app.screen, RememberScreen) and app.screen, 5
            )
            await pilot.press("ctrl+s")  # empty: refused, the modal stays
            assert app.screen is modal
            await pilot.press(*question, "enter")  # Enter goes on to the answer
            assert isinstance(app.focused, TextArea)
            await pilot.press(*answer, "ctrl+s")
            await wait_for(pilot, lambda: noted(app, "Remembered"), 10, "the note")
            (memory,) = stored()
            assert memory["answer"] == answer and memory["kind"] == "teach"
            await wait_for(pilot, lambda: memory["id"] in memory_rows(screen), 10, "the row")

            # Forget it: asked first; "no" keeps it.
            table = screen.query_one(DataTable)
            table.focus()
            table.move_cursor(row=list(memory_rows(screen)).index(memory["id"]))
            await pilot.pause()
            assert screen.selected["id"] == memory["id"]
            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5)
            await pilot.press("n")
            await pilot.pause(0.3)
            assert stored() and memory["id"] in memory_rows(screen)

            await pilot.press("d")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), 5)
            await pilot.press("y")
            await wait_for(pilot, lambda: noted(app, f"Forgot “{question}”"), 10, "the note")
            assert stored() == []
            await wait_for(pilot, lambda: memory["id"] not in memory_rows(screen), 10)

    run(scenario)


def test_a_memory_source_reads_as_what_you_told_me(daemon: RunningDaemon, boat: dict) -> None:
    # The same question as the memory's: the daemon's memory search puts it first. What
    # the model writes is not checked (another CPU writes something else).
    app = make_app(daemon.home, ask_options=SEEDED)

    async def scenario() -> None:
        async with app.run_test(size=(100, 30)) as pilot:
            await daemon_up(pilot)
            await pilot.press(*BOAT[0], "enter")
            view = await wait_for(
                pilot, lambda: app.screen.query(TurnView) and app.screen.query_one(TurnView), 10
            )
            await wait_for(pilot, lambda: view.turn.state != "streaming", 120, "the answer")
            assert view.turn.state == "done", view.turn.error

            panel = app.screen.query_one(SourcesPanel)
            first = panel.sources[0]
            assert first["memory"]["id"] == boat["id"]
            label = str(panel.get_option_at_index(0).prompt)
            assert label.startswith(f"[1] {told_you(boat['taught_at'])}  “{BOAT[0]}”")
            assert Path(boat["path"]).name not in label  # a memory, not a file

            # Shown: the question and the whole answer, not the teach file's lines.
            panel.focus()
            await pilot.press("enter")
            snippet = await wait_for(
                pilot, lambda: isinstance(app.screen, SnippetScreen) and app.screen, 10
            )
            assert snippet.text == BOAT[1]
            assert BOAT[0] in str(snippet.query_one("#memory-question").render())
            await pilot.press("escape")

    run(scenario)


# --- an answer learned from the user -------------------------------------------------------


class OneAnswer(App[None]):
    """A TurnView alone, as the chat mounts it."""

    CSS_PATH = Path(__file__).parents[2] / "tui" / "screens" / "chat.tcss"

    def __init__(self, turn: Turn) -> None:
        super().__init__()
        self.turn = turn

    def compose(self) -> ComposeResult:
        yield TurnView(self.turn)


@pytest.mark.parametrize(
    ("result", "band"),
    [
        ({"grounded": False, "learned": True}, "Learned from you, not from your documents"),
        ({"grounded": False}, "General knowledge: not from your documents"),
    ],
)
def test_an_answer_learned_from_you_carries_its_band(result: dict, band: str) -> None:
    turn = Turn(question="What is the name of my boat?")
    turn.finish({"answer": "The Gull Wing.", "sources": [], "timings": {}, **result})
    app = OneAnswer(turn)

    async def scenario() -> None:
        async with app.run_test(size=(80, 12)) as pilot:
            await pilot.pause()
            view = app.query_one(TurnView)
            badge = view.query_one(".badge")
            assert badge.display and str(badge.render()) == band
            assert view.has_class("-learned") == bool(result.get("learned"))

    run(scenario)
