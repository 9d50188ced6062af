"""/api/status and /api/ask keep the shapes fixed in design.md."""

from __future__ import annotations

from tests.daemon.api.conftest import sse_events
from tests.support.generation import sampling

INDEX_KEYS = {
    "state",
    "files",
    "chunks",
    "queued",
    "in_progress",
    "failed",
    "current_file",
    "embedded_total",
    "ingests_total",
    "paused_reason",
}
ASK_KEYS = {
    "answer",
    "grounded",
    "session_id",
    "message_id",
    "sources",
    "claims",
    "learned",
    "model",
    "adapter",
    "timings",
}


def test_status_shape(api):
    doc = api.get("/api/status").json()
    assert {"pid", "port", "uptime_s", "version", "model", "adapter", "index"} <= doc.keys()
    assert set(doc["index"]) == INDEX_KEYS
    assert doc["index"]["state"] == "idle" and doc["index"]["paused_reason"] is None
    assert doc["model"] == "smollm2-135m-instruct"
    assert doc["adapter"] is None


def test_ask_returns_the_documented_document(api, state):
    question = "What is the capital of France?"
    doc = api.post(
        "/api/ask",
        json={"question": question, "stream": False, "max_tokens": 24, **sampling()},
    ).json()
    assert set(doc) == ASK_KEYS
    assert doc["answer"].strip() and doc["timings"]["completion_tokens"] > 0
    stored = state.db.query(
        "SELECT role, content FROM messages WHERE session_id = ? ORDER BY rowid",
        [doc["session_id"]],
    )
    assert [(r["role"], r["content"]) for r in stored] == [
        ("user", question),
        ("assistant", doc["answer"]),
    ]
    assert doc["grounded"] is False and doc["sources"] == []
    assert doc["session_id"].startswith("s_") and doc["message_id"].startswith("m_")
    assert {"retrieval_ms", "prompt_ms", "first_token_ms", "total_ms"} <= doc["timings"].keys()


def test_ask_streams_tokens_then_done(api, state):
    response = api.post("/api/ask", json={"question": "Say hello.", "max_tokens": 12, **sampling()})
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[0] == "session" and names[-1] == "done" and set(names[1:-1]) == {"token"}
    tokens = "".join(data["text"] for name, data in events if name == "token")
    done = events[-1][1]
    assert done["answer"] == tokens.strip()
    assert events[0][1] == {"session_id": done["session_id"]}
    stored = list(
        state.db.query(
            "SELECT role, content FROM messages WHERE session_id = ?", [done["session_id"]]
        )
    )
    assert [r["role"] for r in stored] == ["user", "assistant"]


def test_ask_continues_a_session(api):
    first = api.post(
        "/api/ask", json={"question": "My name is Ada.", "stream": False, "max_tokens": 8}
    ).json()
    second = api.post(
        "/api/ask",
        json={
            "question": "What is my name?",
            "stream": False,
            "session_id": first["session_id"],
            "max_tokens": 8,
        },
    ).json()
    assert second["session_id"] == first["session_id"]
    assert second["timings"]["prompt_tokens"] > first["timings"]["prompt_tokens"]


def test_ask_with_an_unknown_session_is_404(api):
    response = api.post("/api/ask", json={"question": "hi", "session_id": "s_nope"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "session_not_found"
