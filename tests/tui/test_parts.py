"""The TUI's plain parts: answer kinds, source labels, the editor command, training state,
the status line, the key table (and that the README documents every key)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from cove.daemon.client import ApiError
from cove.tui.answers import (
    EditorError,
    Turn,
    badge,
    editor_command,
    find_memory,
    snippet_range,
    source_label,
    told_you,
    turns_from_messages,
    unsupported_line,
)
from cove.tui.app import key_sections
from cove.tui.keys import key_label
from cove.tui.training import Run, TrainingState, duration, fetch_training_state, when
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
    # Answered by the adapter trained on the user's own questions: its own band.
    learned = done(grounded=False, learned=True)
    assert learned.kind == "learned"
    assert badge(learned) == "Learned from you, not from your documents"
    assert done(grounded=False, learned=False).kind == "general"  # no key means false too


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
    assert source_label(SOURCE) == "[1] skerry.md  Skerry Island lighthouse  lines 3-4"
    # as the CLI marks them: the sources the answer did not cite
    assert source_label({**SOURCE, "cited": False}).endswith("lines 3-4  (not cited)")
    assert snippet_range(SOURCE) == (1, 10)
    assert snippet_range({**SOURCE, "page": 2}) is None  # pages have no line numbers


TAUGHT = datetime(2026, 12, 3, 14, 2).timestamp()
MEMORY = {
    "id": "mem_0123456789ab",
    "question": "What is the name of my boat?",
    "answer": "Your boat is called the Gull Wing.",
    "path": "/home/cove/teach/cove-teach.jsonl",
    "line": 3,
    "taught_at": TAUGHT,
    "kind": "teach",
    "message_id": None,
}
MEMORY_SOURCE = {
    **SOURCE,
    "path": MEMORY["path"],
    "heading": [MEMORY["question"]],
    "line_start": 3,
    "line_end": 3,
    "snippet": MEMORY["answer"],
    "memory": {k: MEMORY[k] for k in ("id", "kind", "question", "taught_at")},
}


def test_a_memory_source_is_what_you_told_me() -> None:
    assert told_you(TAUGHT) == "you told me, 2026-12-03"
    assert source_label(MEMORY_SOURCE) == (
        "[1] you told me, 2026-12-03  “What is the name of my boat?”"
    )
    # Its question and answer are shown, not the teach file's lines.
    assert snippet_range(MEMORY_SOURCE) is None
    assert find_memory([MEMORY], MEMORY["id"]) == MEMORY
    assert find_memory([MEMORY], "mem_gone") is None
    assert source_label({**SOURCE, "memory": None}).startswith("[1] skerry.md")


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
    """Stands in for CoveClient.train_status (only the HTTP status matters here)."""

    def __init__(self, status: int | None, doc: dict | None = None) -> None:
        self.status, self.doc = status, doc

    def train_status(self) -> dict:
        if self.status:
            raise ApiError(self.status, "no", "http_404")
        return self.doc


STARTED = datetime(2025, 1, 13, 2, 0, 4).timestamp()
RUN = {
    "id": "r_20250113-020004_1a2b3c",
    "trigger": "schedule",
    "status": "promoted",
    "stage": None,
    "started_at": STARTED,
    "ended_at": STARTED + 600,
    "hardware": "cpu",
    "steps": 60,
    "progress": {"step": 60, "steps": 60, "loss": 0.8, "tokens_per_s": 310.0, "eta_s": 0},
    "losses": [2.1, 1.4, 0.8],
    "data_stats": {"train": 42, "heldout": 5, "feedback": 30, "teach": 17},
    "metrics": {
        "trainer": {"eval_loss": 1.2, "base_eval_loss": 2.3},
        "probes": 5,
        "base": {"heldout_loss": 2.31, "probe_match": 0.2, "probe_rouge_l": 0.4},
        "adapter": {"heldout_loss": 1.187, "probe_match": 0.8, "probe_rouge_l": 0.9},
    },
    "decision": {"promote": True, "reasons": ["held-out loss fell"], "checks": {}},
    "adapter_id": "a_20250113-021003_9f8e7d",
    "error": None,
}
LIVE = {
    **RUN,
    "id": "r_20250114-101500_4d5e6f",
    "trigger": "now",
    "status": "running",
    "stage": "training",
    "ended_at": None,
    "progress": {"step": 12, "steps": 60, "loss": 1.23456, "tokens_per_s": 350.4, "eta_s": 95},
    "losses": [2.0, 1.5],
    "metrics": {},
    "decision": {},
    "adapter_id": None,
}
DOC = {
    "available": True,
    "run": LIVE,
    "runs": [
        LIVE,
        RUN,
        {
            **RUN,
            "id": "r_20250112-020000_000000",
            "status": "skipped",
            "data_stats": {},
            "metrics": {},
            "losses": [],
            "adapter_id": None,
            "error": "only 3 new examples since the last run (needs 20); no GPU, and "
            "[train] allow_cpu is off",
        },
    ],
    "schedule": {
        "enabled": True,
        "time": "02:00",
        "next_run": "2025-01-15T02:00:00+00:00",
        "last_run": STARTED,
    },
    "conditions": {
        "new_examples": 3,
        "min_new_examples": 20,
        "gpu": False,
        "allow_cpu": False,
        "on_battery": False,
        "ok": False,
        "reasons": ["only 3 new examples since the last run (needs 20)"],
    },
    "adapters": [
        {
            "id": "a_20250113-021003_9f8e7d",
            "run_id": RUN["id"],
            "created_at": STARTED + 600,
            "path": "/home/cove/adapters/a_20250113-021003_9f8e7d/adapter.gguf",
            "base_model": "smollm2",
            "status": "promoted",
            "metrics": RUN["metrics"],
            "data_stats": RUN["data_stats"],
            "active": True,
            "trained_on_removed_data": True,
            "removed_sources": 2,
        }
    ],
    "active_adapter": "a_20250113-021003_9f8e7d",
    "teach_folder": "/home/cove/teach",
}


def test_training_state_is_unavailable_when_the_daemon_says_so() -> None:
    with pytest.raises(ApiError):
        fetch_training_state(Answers(500))
    assert not fetch_training_state(Answers(None, {**DOC, "available": False})).available


def test_training_state_reads_the_daemon_document() -> None:
    state = fetch_training_state(Answers(None, DOC))
    assert state.available and not state.empty
    assert (state.schedule.enabled, state.schedule.time) == (True, "02:00")
    assert state.conditions.new_examples == 3 and not state.conditions.ok
    assert state.run.id == LIVE["id"] and state.run.running
    assert [run.status for run in state.runs] == ["running", "promoted", "skipped"]

    done = state.runs[1]
    assert done.losses == (2.1, 1.4, 0.8)
    assert done.train_examples == 42 and done.heldout_loss == (2.31, 1.187)
    assert done.row()[2:7] == (
        "schedule",
        "promoted",
        "42",
        "2.310 → 1.187",
        "a_20250113-021003_9f8e7d",
    )
    skipped = state.runs[2].row()
    assert skipped[5] == "" and skipped[7].endswith("…") and len(skipped[7]) == 48
    assert state.runs[0].row()[3] == "running (training)"
    assert state.run.progress_text() == (
        f"Run {LIVE['id']} · training · step 12/60 · loss 1.235 · 350 tok/s · ETA 1m35s"
    )

    (adapter,) = state.adapters
    assert adapter.active and state.active_adapter == adapter.id
    assert adapter.row()[2:] == ("promoted", "● active", "yes (2 sources)")
    assert state.teach_folder == "/home/cove/teach"

    assert done.outcome() == (f"Training run {RUN['id']}: promoted", "information")
    assert state.runs[2].outcome()[1] == "error"
    ended = Run.from_doc({**LIVE, "status": "cancelled", "stage": None})
    assert ended.outcome() == (f"Training run {LIVE['id']}: cancelled", "warning")
    after = state.with_run(ended)
    assert after.run is None and after.runs[0].status == "cancelled"


def test_training_state_of_a_fresh_daemon_is_empty() -> None:
    doc = {
        "available": True,
        "run": None,
        "runs": [],
        "schedule": {"enabled": False, "time": None, "next_run": None, "last_run": None},
        "conditions": None,
        "adapters": [],
        "active_adapter": None,
        "teach_folder": "/t",
    }
    state = TrainingState.from_doc(doc)
    assert state.empty and state.conditions is None
    assert state.schedule.text() == "off · never run"


def test_training_times_read_as_people_say_them() -> None:
    now = datetime(2025, 1, 14, 12, 0)
    assert when(None) == "-"
    assert when(datetime(2025, 1, 14, 9, 5).timestamp(), now) == "today 09:05"
    assert when(datetime(2025, 1, 13, 2, 0).timestamp(), now) == "yesterday 02:00"
    assert when(datetime(2025, 1, 15, 2, 0).isoformat(), now) == "tomorrow 02:00"
    assert when(datetime(2025, 1, 3, 2, 0).timestamp(), now) == "3 Jan 02:00"
    assert when(datetime(2024, 12, 3, 2, 0).timestamp(), now) == "3 Dec 2024 02:00"
    local = datetime(2025, 1, 15, 2, 0).astimezone()  # an aware time, as the daemon sends
    assert when(local.isoformat(), now) == "tomorrow 02:00"
    assert (duration(None), duration(42), duration(95), duration(3900)) == (
        "?",
        "42s",
        "1m35s",
        "1h05m",
    )


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


def test_sentences_no_source_supports_are_listed_under_the_answer():
    turn = Turn(question="q", state="done")
    turn.finish(
        {
            "answer": "It is 8 kB [1]. It is blue.",
            "claims": [
                {"text": "It is 8 kB.", "supported": True, "n": 1, "quote": "8 kB pages"},
                {"text": "It is blue.", "supported": False, "n": None, "quote": None},
            ],
        }
    )
    assert unsupported_line(turn) == "Not supported by your sources: It is blue."
    turn.claims = turn.claims[:1]
    assert unsupported_line(turn) == ""
