"""`cove memory` and memories in answers, on a real daemon watching a folder of unrelated
notes: what `cove teach` wrote answers at once, cited "you told me"; forgotten, it is gone
from answers at once; an answer corrected in chat is a memory too."""

from __future__ import annotations

import json

import pytest

from cove.daemon.answer.grounding import NOT_FOUND_ANSWER
from tests.support.daemon import start_daemon
from tests.support.generation import forced_pipeline, sampling_args
from tests.support.kb import wait_idle, write

CAT_QUESTION = "What is the name of my cat?"
CAT_ANSWER = "Your cat is called Pixel Quark."


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("memory")
    docs = root / "docs"
    write(
        docs / "bikes.md",
        "# Bicycle care\n\nOil the chain every 300 km. Tyres are pumped to 4 bar before a "
        "long ride.\n",
    )
    running = start_daemon(root / "home", config="[model]\nmax_tokens = 48\n")
    try:
        added = running.cove("folders", "add", str(docs))
        assert added.returncode == 0, added.stderr
        wait_idle(running)
        yield running
    finally:
        running.stop()


def cove_json(daemon, *args: str) -> dict:
    done = daemon.cove(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_taught_fact_answers_at_once_cited_as_what_you_told_me(daemon):
    taught = cove_json(daemon, "teach", CAT_QUESTION, CAT_ANSWER)
    (memory,) = cove_json(daemon, "memory", "list")["memories"]
    assert (memory["path"], memory["line"]) == (taught["taught"]["path"], 1)
    done = forced_pipeline(daemon, "What is my cat called?", CAT_ANSWER)
    top = done["sources"][0]
    assert top["memory"]["id"] == memory["id"] and top["cited"] is True
    assert done["cove"]["grounded"] is True
    assert done["cove"]["claims"][0] | {"score": None} == {
        "text": f'"{CAT_ANSWER}"',
        "supported": True,
        "n": top["n"],
        "quote": CAT_ANSWER,
        "score": None,
    }
    printed = daemon.cove("ask", "What is my cat called?", *sampling_args())
    assert "you told me, " in printed.stdout and f"asked: {CAT_QUESTION}" in printed.stdout


def test_memory_search_ranks_the_closest_memory_first(daemon):
    cove_json(daemon, "memory", "add", "Who is my dentist?", "Dr. Ilse Moravec.")
    found = cove_json(daemon, "memory", "search", "what is my cat called")
    assert found["results"][0]["memory"]["question"] == CAT_QUESTION
    assert found["results"][0]["dense"] > found["results"][1]["dense"]


def test_a_forgotten_memory_is_gone_from_answers_at_once(daemon):
    memory = cove_json(daemon, "memory", "search", "name of my cat")["results"][0]["memory"]
    forgotten = cove_json(daemon, "memory", "forget", memory["id"])
    assert forgotten["forgotten"]["id"] == memory["id"]
    assert forgotten["adapters_trained_on_it"] == []
    answer = cove_json(daemon, "ask", "What is my cat called?", *sampling_args())
    assert answer["answer"] == NOT_FOUND_ANSWER and answer["sources"] == []
    missing = daemon.cove("memory", "forget", memory["id"])
    assert missing.returncode == 1 and "no memory" in missing.stderr


def test_an_answer_corrected_in_chat_is_a_memory_until_forgotten(daemon):
    asked = cove_json(daemon, "ask", "How often is the chain oiled?", *sampling_args())
    corrected = "Every 300 km, and after rain."
    cove_json(daemon, "feedback", asked["message_id"], "--correct", corrected)
    memory = next(
        m for m in cove_json(daemon, "memory", "list")["memories"] if m["kind"] == "correction"
    )
    assert (memory["question"], memory["answer"]) == ("How often is the chain oiled?", corrected)
    cove_json(daemon, "memory", "forget", memory["id"])
    assert all(m["kind"] != "correction" for m in cove_json(daemon, "memory", "list")["memories"])
    stored = cove_json(daemon, "sessions", "show", asked["session_id"])["messages"][-1]
    assert stored["feedback"] is None  # no rating was given: nothing is left of it
