"""Sessions in cove.db: listed newest first, searched, read with sources and feedback,
renamed, deleted with everything they own, and exported as Markdown and JSON."""

from __future__ import annotations

import pytest

from cove.daemon.records import feedback, sessions
from cove.daemon.records.sessions import MessageNotFoundError, SessionNotFoundError
from cove.daemon.store import open_db

SOURCES = [
    {
        "n": 1,
        "path": "/notes/travel.md",
        "heading": ["Islands", "Ferries"],
        "page": None,
        "line_start": 12,
        "line_end": 18,
        "snippet": "The ferry to Skerry Island leaves at seven.",
        "cited": True,
    },
    {
        "n": 2,
        "path": "/notes/timetable.pdf",
        "heading": [],
        "page": 3,
        "line_start": None,
        "line_end": None,
        "snippet": "Weekend sailings",
        "cited": False,
    },
]


@pytest.fixture
def db(tmp_path):
    return open_db(tmp_path / "cove.db")


def turn(db, session_id: str, question: str, answer: str, **answer_fields) -> str:
    """Store a question and its answer; return the answer's message id."""
    sessions.add_message(db, session_id, "user", question)
    return sessions.add_message(db, session_id, "assistant", answer, **answer_fields)


@pytest.fixture
def ferry(db) -> dict:
    """A grounded session with two turns; the first answer has sources and timings."""
    session_id = sessions.create_session(db, "When does the ferry leave?")
    first = turn(
        db,
        session_id,
        "When does the ferry leave?",
        "At seven [1].",
        grounded=True,
        model="smollm2-135m-instruct",
        timings={"total_ms": 410.3},
        sources=SOURCES,
    )
    second = turn(db, session_id, "And on Sundays?", "At nine.", model="smollm2-135m-instruct")
    return {"id": session_id, "first": first, "second": second}


def test_sessions_are_listed_by_latest_activity_with_message_counts(db, ferry):
    other = sessions.create_session(db, "Capital of France", general=True)
    turn(db, other, "Capital of France?", "Paris.")

    listed = sessions.list_sessions(db)

    assert [s["id"] for s in listed] == [other, ferry["id"]]
    assert listed[0]["general"] is True and listed[1]["general"] is False
    assert [s["messages"] for s in listed] == [2, 4]
    assert listed[1]["last_activity"] >= listed[1]["created_at"]
    sessions.add_message(db, ferry["id"], "user", "One more thing")
    assert sessions.list_sessions(db)[0]["id"] == ferry["id"]


def test_an_empty_session_is_listed_with_zero_messages(db):
    session_id = sessions.create_session(db, "Nothing yet")
    (only,) = sessions.list_sessions(db)
    assert only["id"] == session_id and only["messages"] == 0


def test_search_matches_titles_and_message_content_case_insensitively(db, ferry):
    other = sessions.create_session(db, "Capital of France")
    turn(db, other, "Capital of France?", "Paris, on the Seine.")

    assert [s["id"] for s in sessions.list_sessions(db, "capital")] == [other]
    assert [s["id"] for s in sessions.list_sessions(db, "SUNDAYS")] == [ferry["id"]]
    assert [s["id"] for s in sessions.list_sessions(db, "seine")] == [other]
    assert sessions.list_sessions(db, "volcano") == []


def test_search_treats_like_wildcards_as_plain_text(db, ferry):
    discount = sessions.create_session(db, "Tickets")
    turn(db, discount, "Any discount?", "Children travel at 50% off.")
    assert [s["id"] for s in sessions.list_sessions(db, "50%")] == [discount]
    assert [s["id"] for s in sessions.list_sessions(db, "%")] == [discount]
    assert sessions.list_sessions(db, "_") == []


def test_limit_keeps_the_most_recent(db, ferry):
    newest = sessions.create_session(db, "Newest")
    assert [s["id"] for s in sessions.list_sessions(db, limit=1)] == [newest]


def test_messages_come_oldest_first_with_parsed_sources_timings_and_feedback(db, ferry):
    feedback.set_feedback(db, ferry["first"], "up")

    messages = sessions.session_messages(db, ferry["id"])

    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    answer = messages[1]
    assert answer["id"] == ferry["first"]
    assert answer["content"] == "At seven [1]."
    assert answer["grounded"] is True
    assert answer["sources"] == SOURCES
    assert answer["timings"] == {"total_ms": 410.3}
    assert answer["adapter"] is None
    assert answer["feedback"]["rating"] == "up"
    assert answer["feedback"]["correction"] is None
    assert messages[3]["feedback"] is None
    assert messages[0]["sources"] == [] and messages[0]["timings"] == {}


def test_one_message_can_be_read_by_id(db, ferry):
    message = sessions.get_message(db, ferry["second"])
    assert message["content"] == "At nine." and message["session_id"] == ferry["id"]
    with pytest.raises(MessageNotFoundError, match="no message 'm_nope'"):
        sessions.get_message(db, "m_nope")


def test_rename_changes_the_title_and_normalises_whitespace(db, ferry):
    renamed = sessions.rename_session(db, ferry["id"], "  Ferry   times \n")
    assert renamed["title"] == "Ferry times"
    assert sessions.get_session(db, ferry["id"])["title"] == "Ferry times"
    with pytest.raises(ValueError, match="cannot be empty"):
        sessions.rename_session(db, ferry["id"], "   ")


def test_delete_removes_the_session_its_messages_and_their_feedback(db, ferry):
    keep = sessions.create_session(db, "Keep me")
    kept_answer = turn(db, keep, "Hello?", "Hello!")
    feedback.set_feedback(db, ferry["first"], "down", "At seven, and at nine on Sundays.")
    feedback.set_feedback(db, kept_answer, "up")

    deleted = sessions.delete_session(db, ferry["id"])

    assert deleted == {"id": ferry["id"], "messages": 4, "feedback": 1}
    assert [s["id"] for s in sessions.list_sessions(db)] == [keep]
    assert db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 2
    assert feedback.get_feedback(db, ferry["first"]) is None
    assert feedback.get_feedback(db, kept_answer)["rating"] == "up"


def test_delete_is_all_or_nothing(db, ferry):
    db.execute(
        "CREATE TRIGGER refuse BEFORE DELETE ON sessions BEGIN SELECT RAISE(ABORT, 'no'); END"
    )
    feedback.set_feedback(db, ferry["first"], "up")
    with pytest.raises(Exception, match="no"):
        sessions.delete_session(db, ferry["id"])
    assert len(sessions.session_messages(db, ferry["id"])) == 4
    assert feedback.get_feedback(db, ferry["first"])["rating"] == "up"


@pytest.mark.parametrize(
    "call",
    [
        lambda db: sessions.session_messages(db, "s_nope"),
        lambda db: sessions.rename_session(db, "s_nope", "x"),
        lambda db: sessions.delete_session(db, "s_nope"),
        lambda db: sessions.export_json(db, "s_nope"),
        lambda db: sessions.export_markdown(db, "s_nope"),
    ],
)
def test_an_unknown_session_is_named_in_the_error(db, call):
    with pytest.raises(SessionNotFoundError, match="no session 's_nope'"):
        call(db)


def test_export_json_is_the_session_with_its_messages(db, ferry):
    doc = sessions.export_json(db, ferry["id"])
    assert set(doc) == {"session", "messages"}
    assert doc["session"]["id"] == ferry["id"]
    assert doc["session"]["messages"] == 4
    assert doc["messages"] == sessions.session_messages(db, ferry["id"])


def test_export_markdown_has_the_title_turns_sources_and_feedback(db, ferry):
    sessions.rename_session(db, ferry["id"], "Ferry times")
    feedback.set_feedback(db, ferry["second"], "down", "At nine and at noon.")

    text = sessions.export_markdown(db, ferry["id"])

    assert text.startswith("# Ferry times\n")
    assert text.index("When does the ferry leave?") < text.index("At seven [1].")
    assert text.index("At seven [1].") < text.index("And on Sundays?") < text.index("At nine.")
    assert "### You" in text and "### Cove (from your documents)" in text
    assert "### Cove (general knowledge)" in text
    assert "1. `/notes/travel.md` — Islands > Ferries, lines 12-18\n" in text
    assert "2. `/notes/timetable.pdf` — page 3 (not cited)\n" in text
    assert "Feedback: rated down" in text
    assert "> At nine and at noon." in text
    assert ferry["first"] in text  # answers carry their ids, for `cove feedback`


def test_source_lines_cope_with_missing_and_single_line_locations():
    assert sessions.source_line({"n": 3, "path": "/a.txt"}) == "3. `/a.txt`"
    assert (
        sessions.source_line({"n": 1, "path": "/b.md", "heading": "Intro", "line_start": 4})
        == "1. `/b.md` — Intro, line 4"
    )
