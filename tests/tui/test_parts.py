"""The TUI's plain parts: answer kinds, source labels, the editor command, training state,
the status line, the key table (and that the README documents every key)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cove.daemon.client import ApiError
from cove.tui.answers import (
    EditorError,
    Turn,
    badge,
    editor_command,
    snippet_range,
    source_label,
    turns_from_messages,
)
from cove.tui.keys import key_label, key_sections
from cove.tui.training import NOT_SET_UP, TrainingState, fetch_training_state
from cove.tui.widgets.status_bar import status_text

README = Path(__file__).parents[2] / "README.md"
SOURCE = {
    "n": 1,
    "path": "/notes/skerry.md",
    "heading": ["Skerry Island lighthouse"],
    "page": None,
    "line_start": 3,
    "line_end": 4,
    "snippet": "The lighthouse…",
    "cited": True,
}


def done(**result) -> Turn:
    turn = Turn(question="q")
    turn.finish({"answer": "a", "grounded": True, "sources": [], "timings": {}, **result})
    return turn


def test_answer_kinds_and_badges() -> None:
    assert done(sources=[SOURCE]).kind == "grounded" and badge(done(sources=[SOURCE])) == ""
    assert done().kind == "unknown"  # grounded, nothing found: Cove's "I don't know"
    assert done(grounded=False).kind == "general"
    assert "General knowledge" in badge(done(grounded=False))
    assert done(grounded=False, timings={"declined_topic": "diagnosis"}).kind == "declined"
    assert Turn(question="q", state="stopped").kind == "stopped"


def test_stored_messages_become_turns() -> None:
    messages = [
        {"role": "user", "content": "first"},  # stopped: no answer was kept
        {"role": "user", "content": "second"},
        {
            "id": "m_1",
            "role": "assistant",
            "content": "answer",
            "grounded": 1,
            "sources": [SOURCE],
            "timings": {},
            "feedback": {"rating": "up", "correction": None},
        },
    ]
    first, second = turns_from_messages(messages)
    assert (first.question, first.kind) == ("first", "stopped")
    assert (second.answer, second.message_id, second.kind) == ("answer", "m_1", "grounded")
    assert second.feedback["rating"] == "up"


def test_source_label_and_snippet_range() -> None:
    assert source_label(SOURCE) == "[1] skerry.md  Skerry Island lighthouse  lines 3-4  (cited)"
    assert snippet_range(SOURCE) == (1, 10)
    assert snippet_range({**SOURCE, "page": 2}) is None  # pages have no line numbers


@pytest.mark.parametrize(
    ("editor", "expected"),
    [
        ("vim", ["vim", "+3", "/n/a.md"]),
        ("/usr/bin/nano -w", ["/usr/bin/nano", "-w", "+3", "/n/a.md"]),
        ("code --wait", ["code", "--wait", "--goto", "/n/a.md:3"]),
        ("hx", ["hx", "/n/a.md:3"]),
        ("some-editor", ["some-editor", "/n/a.md"]),  # no line syntax we know
    ],
)
def test_editor_command(editor: str, expected: list[str]) -> None:
    assert editor_command(editor, "/n/a.md", 3) == expected


def test_editor_command_refusals() -> None:
    with pytest.raises(EditorError, match=r"\$EDITOR is not set"):
        editor_command(None, "/n/a.md", 3)
    with pytest.raises(EditorError, match="not a text file"):
        editor_command("vim", "/n/report.pdf", None)


class Answers:
    """Stands in for CoveClient.request (only the HTTP status matters here)."""

    def __init__(self, status: int | None, doc: dict | None = None) -> None:
        self.status, self.doc = status, doc

    def request(self, method: str, path: str, **_: object) -> dict:
        if self.status:
            raise ApiError(self.status, "no", "http_404")
        return self.doc


def test_training_state_is_unavailable_without_the_api() -> None:
    state = fetch_training_state(Answers(404))
    assert state == TrainingState.unavailable(NOT_SET_UP)
    with pytest.raises(ApiError):
        fetch_training_state(Answers(500))


def test_training_state_reads_the_planned_document() -> None:
    doc = {
        "schedule": {"enabled": True, "time": "02:00", "last_run": None, "next_run": "tomorrow"},
        "runs": [{"id": "r1", "started_at": "t", "status": "done", "losses": [2.0, 1.5]}],
        "adapters": [{"name": "a1", "created_at": "t", "active": True}],
    }
    state = fetch_training_state(Answers(None, doc))
    assert state.available and state.schedule.time == "02:00"
    assert state.runs[0].losses == (2.0, 1.5) and state.adapters[0].active


def test_status_text() -> None:
    status = {
        "model": "smollm2",
        "adapter": None,
        "index": {"state": "indexing", "files": 1, "queued": 2, "failed": 1},
    }
    assert status_text("up", status) == (
        "up · smollm2 · no adapter · index indexing · 1 file, 2 queued, 1 failed"
    )
    assert status_text("down", None).startswith("daemon down")


def test_key_labels() -> None:
    assert key_label("ctrl+n") == "Ctrl+N"
    assert key_label("delete,d") == "Delete / d"
    assert key_label("question_mark") == "?"


def test_readme_documents_every_key() -> None:
    """The README's key table lists what the help screen lists (both from the bindings)."""
    text = README.read_text()
    section = text[text.index("## Terminal UI") : text.index("## The knowledge base")]
    documented = set(re.findall(r"^\| (.+?) \| (.+?) \|$", section, re.M))
    missing = [
        (keys, action)
        for _, rows in key_sections()
        for keys, action in rows
        if (keys.replace("|", "\\|"), action) not in documented
    ]
    assert not missing, missing
