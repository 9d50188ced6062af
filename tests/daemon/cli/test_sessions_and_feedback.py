"""`cove sessions` and `cove feedback` against a real daemon with the real model.

Sessions are made the way a user makes them, with `cove ask`; every check goes through the
real CLI, the real API and the daemon's cove.db.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess

import httpx
import pytest

from cove.daemon.records.feedback import training_examples
from cove.daemon.store.db import connect
from tests.support.daemon import CLI, cove_env, free_port, run_cove, start_daemon
from tests.support.generation import sampling_args

# How the tests ask (with --json): short, reproducible answers from general knowledge.
ASK_OPTIONS = ("--general", "--max-tokens", "16", *sampling_args())


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """A daemon of this module's own, so the sessions listed are only the ones made here."""
    running = start_daemon(tmp_path_factory.mktemp("sessions-home"))
    yield running
    running.stop()


def cove_json(daemon, *args: str):
    done = daemon.cove(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def ask(daemon, question: str, *extra: str) -> dict:
    return cove_json(daemon, "ask", question, *ASK_OPTIONS, *extra)


@pytest.fixture(scope="module")
def chats(daemon) -> dict:
    """Two sessions: one about a ferry (two turns), then a newer one about France."""
    ferry = ask(daemon, "When does the ferry to Skerry Island leave?")
    ferry_again = ask(daemon, "And on Sundays?", "--session", ferry["session_id"])
    france = ask(daemon, "What is the capital of France?")
    return {"ferry": ferry, "ferry_again": ferry_again, "france": france}


def listed(daemon, *args: str) -> list[dict]:
    return cove_json(daemon, "sessions", "list", *args)["sessions"]


def test_session_and_feedback_commands_need_a_running_daemon(tmp_path):
    env = cove_env(tmp_path / "home", free_port())
    for args in (["sessions", "list", "--json"], ["feedback", "m_123", "up"]):
        done = run_cove(*args, env=env)
        assert done.returncode == 3, done.stderr
        assert done.stdout == ""
        assert "cove start" in done.stderr


def test_list_shows_sessions_newest_first_with_counts(daemon, chats):
    sessions = {s["id"]: s for s in listed(daemon)}
    order = [s["id"] for s in listed(daemon)]
    ferry, france = chats["ferry"]["session_id"], chats["france"]["session_id"]

    assert order[:2] == [france, ferry]
    assert sessions[ferry]["title"] == "When does the ferry to Skerry Island leave?"
    assert sessions[ferry]["messages"] == 4 and sessions[france]["messages"] == 2
    assert set(sessions[ferry]) == {
        "id",
        "title",
        "general",
        "created_at",
        "updated_at",
        "messages",
        "last_activity",
    }
    human = daemon.cove("sessions", "list")
    assert human.returncode == 0, human.stderr
    assert human.stdout.splitlines()[0].startswith(france)


def test_list_search_looks_in_titles_and_messages(daemon, chats):
    ferry, france = chats["ferry"]["session_id"], chats["france"]["session_id"]
    assert [s["id"] for s in listed(daemon, "--search", "skerry")] == [ferry]
    assert [s["id"] for s in listed(daemon, "--search", "on Sundays")] == [ferry]
    assert [s["id"] for s in listed(daemon, "--search", "capital of")] == [france]
    assert listed(daemon, "--search", "no such words anywhere") == []


def test_show_has_every_turn_with_the_answer_ids_that_ask_returned(daemon, chats):
    doc = cove_json(daemon, "sessions", "show", chats["ferry"]["session_id"])

    assert doc["session"]["id"] == chats["ferry"]["session_id"]
    messages = doc["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
    assert messages[0]["content"] == "When does the ferry to Skerry Island leave?"
    assert messages[1]["id"] == chats["ferry"]["message_id"]
    assert messages[1]["content"] == chats["ferry"]["answer"]
    assert messages[3]["id"] == chats["ferry_again"]["message_id"]
    assert messages[1]["model"] == "smollm2-135m-instruct"
    assert messages[1]["grounded"] is False and messages[1]["sources"] == []
    assert messages[1]["timings"]["completion_tokens"] >= 1

    human = daemon.cove("sessions", "show", chats["ferry"]["session_id"])
    assert human.returncode == 0, human.stderr
    assert "you> And on Sundays?" in human.stdout
    assert chats["ferry_again"]["message_id"] in human.stdout


def test_rename_changes_the_listed_title(daemon, chats):
    session_id = chats["france"]["session_id"]
    doc = cove_json(daemon, "sessions", "rename", session_id, "French geography")
    assert doc["session"]["title"] == "French geography"
    assert {s["id"]: s["title"] for s in listed(daemon)}[session_id] == "French geography"


def test_export_markdown_goes_to_stdout(daemon, chats):
    done = daemon.cove("sessions", "export", chats["ferry"]["session_id"])
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert text.startswith("# When does the ferry to Skerry Island leave?\n")
    assert text.index("Skerry Island leave?\n\n### Cove") < text.index("And on Sundays?")
    assert chats["ferry"]["message_id"] in text and chats["ferry_again"]["message_id"] in text


def test_export_json_to_a_file_is_the_show_document(daemon, chats, tmp_path):
    target = tmp_path / "ferry.json"
    session_id = chats["ferry"]["session_id"]
    done = daemon.cove("sessions", "export", session_id, "--format", "json", "-o", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert json.loads(target.read_text()) == cove_json(daemon, "sessions", "show", session_id)

    summary = cove_json(daemon, "sessions", "export", session_id, "-o", str(tmp_path / "f.md"))
    assert summary["format"] == "md" and summary["bytes"] > 0
    assert (tmp_path / "f.md").read_text().startswith("# When does the ferry")


def test_feedback_rates_corrects_and_clears_an_answer(daemon, chats):
    answer = chats["ferry"]["message_id"]

    assert cove_json(daemon, "feedback", answer, "up")["feedback"]["rating"] == "up"
    assert cove_json(daemon, "feedback", answer, "down")["feedback"]["rating"] == "down"
    corrected = cove_json(daemon, "feedback", answer, "--correct", "At seven every morning.")
    assert corrected["feedback"]["rating"] == "down"  # the rating given before is kept
    assert corrected["feedback"]["correction"] == "At seven every morning."
    shown = cove_json(daemon, "sessions", "show", chats["ferry"]["session_id"])["messages"]
    assert shown[1]["feedback"]["correction"] == "At seven every morning."
    exported = daemon.cove("sessions", "export", chats["ferry"]["session_id"]).stdout
    assert "Feedback: rated down" in exported and "> At seven every morning." in exported

    assert cove_json(daemon, "feedback", answer, "--clear") == {
        "message_id": answer,
        "cleared": True,
        "training_examples_forgotten": 0,
    }
    shown = cove_json(daemon, "sessions", "show", chats["ferry"]["session_id"])["messages"]
    assert shown[1]["feedback"] is None


def test_feedback_without_json_says_what_was_stored(daemon, chats):
    answer = chats["france"]["message_id"]
    done = daemon.cove("feedback", answer, "up", "--correct", "Paris.")
    assert done.returncode == 0, done.stderr
    assert f"{answer}: rated up and corrected" in done.stderr
    assert daemon.cove("feedback", answer, "--clear").returncode == 0


def test_training_examples_follow_the_feedback_given(daemon, chats):
    up, corrected = chats["france"]["message_id"], chats["ferry_again"]["message_id"]
    assert daemon.cove("feedback", up, "up").returncode == 0
    assert daemon.cove("feedback", corrected, "down", "--correct", "At nine.").returncode == 0

    db = connect(daemon.home / "cove.db")
    try:
        examples = {e["message_id"]: e for e in training_examples(db)}
    finally:
        db.conn.close()

    assert set(examples) == {up, corrected}
    assert examples[up]["question"] == "What is the capital of France?"
    assert examples[up]["target"] == chats["france"]["answer"]
    assert examples[corrected]["question"] == "And on Sundays?"
    assert examples[corrected]["target"] == "At nine."


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sessions", "show", "s_nope"], "no session 's_nope'"),
        (["sessions", "rename", "s_nope", "New title"], "no session 's_nope'"),
        (["sessions", "export", "s_nope"], "no session 's_nope'"),
        (["sessions", "delete", "s_nope", "--yes"], "no session 's_nope'"),
        (["feedback", "m_nope", "up"], "no message 'm_nope'"),
        (["feedback", "m_nope", "--clear"], "no message 'm_nope'"),
    ],
)
def test_unknown_ids_exit_1_naming_the_id(daemon, args, message):
    done = daemon.cove(*args)
    assert done.returncode == 1
    assert message in done.stderr
    assert done.stdout == ""


def test_a_question_takes_no_feedback(daemon, chats):
    doc = cove_json(daemon, "sessions", "show", chats["ferry"]["session_id"])
    question = doc["messages"][0]["id"]
    done = daemon.cove("feedback", question, "up")
    assert done.returncode == 1
    assert "is a user message" in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["feedback", "m_1"],
        ["feedback", "m_1", "--clear", "up"],
        ["feedback", "m_1", "sideways"],
        ["sessions", "export", "s_1", "--format", "pdf"],
        ["sessions", "rename", "s_1"],
    ],
)
def test_usage_mistakes_exit_2(daemon, args):
    assert daemon.cove(*args).returncode == 2


def test_an_empty_correction_is_refused_by_the_api(daemon, chats):
    done = daemon.cove("feedback", chats["ferry"]["message_id"], "--correct", "")
    assert done.returncode == 1
    assert "correction" in done.stderr


ROUTES = {
    ("get", "/api/sessions"),
    ("get", "/api/sessions/{session_id}"),
    ("patch", "/api/sessions/{session_id}"),
    ("delete", "/api/sessions/{session_id}"),
    ("get", "/api/sessions/{session_id}/export"),
    ("get", "/api/messages/{message_id}"),
    ("put", "/api/messages/{message_id}/feedback"),
    ("delete", "/api/messages/{message_id}/feedback"),
}


def api(daemon, method: str, path: str, **kwargs) -> httpx.Response:
    headers = {"Authorization": f"Bearer {daemon.token}"}
    return httpx.request(method, daemon.url + path, headers=headers, trust_env=False, **kwargs)


def test_the_api_documents_every_route(daemon):
    spec = api(daemon, "GET", "/openapi.json").json()
    documented = {
        (method, path): op for path, ops in spec["paths"].items() for method, op in ops.items()
    }
    for route in ROUTES:
        assert route in documented, route
        assert documented[route]["summary"] and documented[route]["tags"]


def test_every_session_route_needs_the_token(daemon):
    for method, path in ROUTES:
        concrete = path.format(session_id="s_1", message_id="m_1")
        response = httpx.request(method, daemon.url + concrete, json={}, trust_env=False)
        assert response.status_code == 401, (method, path)


def test_the_api_exports_markdown_as_text_markdown(daemon, chats):
    response = api(daemon, "GET", f"/api/sessions/{chats['ferry']['session_id']}/export")
    with daemon.client() as client:
        text = client.export_session(chats["ferry"]["session_id"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/markdown")
    assert response.text == text


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("PUT", "/api/messages/{answer}/feedback", {}, 400, "give a rating"),
        ("PUT", "/api/messages/{answer}/feedback", {"rating": "meh"}, 400, "rating"),
        ("PUT", "/api/messages/{answer}/feedback", {"correction": ""}, 400, "correction"),
        ("PATCH", "/api/sessions/{session}", {"title": ""}, 400, "title"),
        ("PATCH", "/api/sessions/{session}", {"title": "   "}, 400, "cannot be empty"),
        ("GET", "/api/sessions/{session}/export?format=pdf", None, 400, "format"),
        ("GET", "/api/messages/m_nope", None, 404, "no message 'm_nope'"),
        ("GET", "/api/sessions/s_nope", None, 404, "no session 's_nope'"),
    ],
)
def test_the_api_refuses_bad_input_with_a_clear_message(
    daemon, chats, method, path, body, status, message
):
    path = path.format(answer=chats["ferry"]["message_id"], session=chats["ferry"]["session_id"])
    response = api(daemon, method, path, json=body)
    assert response.status_code == status
    assert message in response.json()["error"]["message"]


def run_on_a_terminal(daemon, *args: str, answer: str) -> tuple[int, str]:
    """Run `cove` with a pseudo-terminal as stdin, type `answer`, return (code, stderr)."""
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            [*CLI, *args],
            env=daemon.env,
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(master, answer.encode() + b"\n")
        _, stderr = process.communicate(timeout=120)
    finally:
        os.close(slave)
        os.close(master)
    return process.returncode, stderr


@pytest.fixture(scope="module")
def doomed(daemon) -> dict:
    """A session made to be deleted, with a rated answer."""
    doc = ask(daemon, "Tell me about lighthouses.")
    assert daemon.cove("feedback", doc["message_id"], "up").returncode == 0
    return doc


def test_delete_on_a_terminal_asks_first_and_no_keeps_the_session(daemon, doomed):
    session_id = doomed["session_id"]
    code, stderr = run_on_a_terminal(daemon, "sessions", "delete", session_id, answer="n")
    assert code == 1
    assert f"Delete session {session_id}" in stderr and "nothing deleted" in stderr
    assert session_id in {s["id"] for s in listed(daemon)}


def test_delete_yes_removes_the_session_its_messages_and_their_feedback(daemon, doomed):
    doc = cove_json(daemon, "sessions", "delete", doomed["session_id"], "--yes")

    assert doc == {
        "deleted": {
            "id": doomed["session_id"],
            "messages": 2,
            "feedback": 1,
            "training_examples_forgotten": 0,
        }
    }
    assert doomed["session_id"] not in {s["id"] for s in listed(daemon)}
    assert daemon.cove("sessions", "show", doomed["session_id"]).returncode == 1
    assert daemon.cove("feedback", doomed["message_id"], "up").returncode == 1


def test_sessions_and_feedback_survive_a_restart(daemon, chats):
    answer = chats["ferry"]["message_id"]
    assert daemon.cove("feedback", answer, "up", "--correct", "At seven.").returncode == 0
    before = cove_json(daemon, "sessions", "show", chats["ferry"]["session_id"])
    titles = {s["id"]: s["title"] for s in listed(daemon)}

    daemon.stop()
    daemon.start()

    assert {s["id"]: s["title"] for s in listed(daemon)} == titles
    assert cove_json(daemon, "sessions", "show", chats["ferry"]["session_id"]) == before
    assert before["messages"][1]["feedback"]["correction"] == "At seven."
    # A restarted daemon continues an old session.
    more = ask(daemon, "Thanks!", "--session", chats["ferry"]["session_id"])
    assert more["session_id"] == chats["ferry"]["session_id"]
    assert listed(daemon)[0]["messages"] == 6
