"""Feedback on answers: ratings and corrections, kept per answer, and the training examples
that personal fine-tuning will learn from."""

from __future__ import annotations

import pytest

from cove.daemon.records import sessions
from cove.daemon.records.feedback import (
    FeedbackError,
    delete_feedback,
    get_feedback,
    set_feedback,
    training_examples,
)
from cove.daemon.records.sessions import MessageNotFoundError
from cove.daemon.store import open_db


@pytest.fixture
def db(tmp_path):
    return open_db(tmp_path / "cove.db")


@pytest.fixture
def chat(db) -> dict:
    """One session: two questions, each answered."""
    session_id = sessions.create_session(db, "Islands")
    ids = {"session": session_id}
    ids["q1"] = sessions.add_message(db, session_id, "user", "When does the ferry leave?")
    ids["a1"] = sessions.add_message(db, session_id, "assistant", "At seven.")
    ids["q2"] = sessions.add_message(db, session_id, "user", "How long is the crossing?")
    ids["a2"] = sessions.add_message(db, session_id, "assistant", "Three hours.", grounded=True)
    return ids


def test_a_rating_is_stored_and_can_be_changed(db, chat):
    stored = set_feedback(db, chat["a1"], "up")
    assert stored["message_id"] == chat["a1"]
    assert (stored["rating"], stored["correction"]) == ("up", None)

    changed = set_feedback(db, chat["a1"], "down")
    assert changed["rating"] == "down"
    assert changed["created_at"] == stored["created_at"]
    assert changed["updated_at"] >= stored["updated_at"]
    assert db.execute("SELECT COUNT(*) FROM feedback").fetchone()[0] == 1


def test_a_correction_needs_no_rating(db, chat):
    stored = set_feedback(db, chat["a1"], correction="  At seven in the morning.\n")
    assert stored["rating"] is None
    assert stored["correction"] == "At seven in the morning."


def test_what_is_not_given_is_kept(db, chat):
    set_feedback(db, chat["a1"], "down")
    set_feedback(db, chat["a1"], correction="At half past seven.")
    assert get_feedback(db, chat["a1"])["rating"] == "down"
    set_feedback(db, chat["a1"], "up")
    assert get_feedback(db, chat["a1"])["correction"] == "At half past seven."


def test_clearing_removes_rating_and_correction(db, chat):
    set_feedback(db, chat["a1"], "down", "At half past seven.")
    assert delete_feedback(db, chat["a1"]) is True
    assert get_feedback(db, chat["a1"]) is None
    assert delete_feedback(db, chat["a1"]) is False  # nothing left to clear


@pytest.mark.parametrize(
    ("rating", "correction", "message"),
    [
        ("sideways", None, "'up' or 'down'"),
        (None, None, "a rating"),
        (None, "   ", "cannot be empty"),
    ],
)
def test_bad_feedback_is_refused_with_the_reason(db, chat, rating, correction, message):
    with pytest.raises(FeedbackError, match=message):
        set_feedback(db, chat["a1"], rating, correction)
    assert get_feedback(db, chat["a1"]) is None


def test_only_the_assistants_answers_take_feedback(db, chat):
    with pytest.raises(FeedbackError, match="is a user message"):
        set_feedback(db, chat["q1"], "up")
    with pytest.raises(FeedbackError, match="is a user message"):
        delete_feedback(db, chat["q1"])


def test_an_unknown_message_is_named_in_the_error(db):
    with pytest.raises(MessageNotFoundError, match="no message 'm_nope'"):
        set_feedback(db, "m_nope", "up")
    with pytest.raises(MessageNotFoundError, match="no message 'm_nope'"):
        delete_feedback(db, "m_nope")


def test_training_examples_are_rated_up_or_corrected_answers_with_their_question(db, chat):
    set_feedback(db, chat["a1"], "up")
    set_feedback(db, chat["a2"], "down", "About two and a half hours.")

    examples = training_examples(db)
    assert all(isinstance(e.pop("updated_at"), float) for e in examples)  # when corrected

    assert examples == [
        {
            "message_id": chat["a1"],
            "session_id": chat["session"],
            "question": "When does the ferry leave?",
            "answer": "At seven.",
            "rating": "up",
            "correction": None,
            "target": "At seven.",
            "grounded": False,
        },
        {
            "message_id": chat["a2"],
            "session_id": chat["session"],
            "question": "How long is the crossing?",
            "answer": "Three hours.",
            "rating": "down",
            "correction": "About two and a half hours.",
            "target": "About two and a half hours.",
            "grounded": True,
        },
    ]


def test_rated_down_uncorrected_and_unrated_answers_teach_nothing(db, chat):
    set_feedback(db, chat["a1"], "down")
    assert training_examples(db) == []


def test_the_question_is_the_user_message_right_before_the_answer(db, chat):
    other = sessions.create_session(db, "Elsewhere")
    sessions.add_message(db, other, "user", "A question in another session")
    sessions.add_message(db, chat["session"], "user", "And back?")
    answer = sessions.add_message(db, chat["session"], "assistant", "At six.")
    set_feedback(db, answer, "up")
    (example,) = training_examples(db)
    assert example["question"] == "And back?"


def test_an_answer_with_no_question_before_it_is_left_out(db):
    session_id = sessions.create_session(db, "Odd")
    answer = sessions.add_message(db, session_id, "assistant", "Unprompted.")
    set_feedback(db, answer, "up")
    assert training_examples(db) == []


def test_deleting_a_session_removes_its_examples(db, chat):
    set_feedback(db, chat["a1"], "up")
    sessions.delete_session(db, chat["session"])
    assert training_examples(db) == []
