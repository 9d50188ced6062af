"""Every route needs the token; bad requests get a 4xx with a JSON error."""

from __future__ import annotations

import pytest

ROUTES = [
    ("GET", "/api/status"),
    ("GET", "/v1/models"),
    ("POST", "/v1/chat/completions"),
    ("POST", "/v1/embeddings"),
    ("POST", "/api/ask"),
    ("GET", "/api/models"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_token_is_401(api, method, path):
    response = api.request(method, path, token=None, json={})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_wrong_token_is_401(api):
    assert api.get("/api/status", token="guess").status_code == 401


def test_the_openapi_spec_is_served(api):
    spec = api.get("/openapi.json", token=None).json()
    assert spec["info"]["title"] == "Cove"
    for path in ("/v1/chat/completions", "/v1/embeddings", "/v1/models", "/api/status"):
        assert path in spec["paths"]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"messages": []},
        {"messages": "hello"},
        {"messages": [{"role": "wizard", "content": "hi"}]},
        {"messages": [{"role": "user", "content": "hi"}], "temperature": 9},
        {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0},
    ],
)
def test_malformed_chat_requests_are_400_with_a_json_error(api, body):
    response = api.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and error["message"].startswith("invalid request")


def test_a_body_that_is_not_json_is_400(api):
    response = api.post(
        "/v1/chat/completions", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert "error" in response.json()


def test_an_unknown_model_is_404(api):
    response = api.post(
        "/v1/chat/completions",
        json={"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"


def test_an_unknown_route_is_a_json_404(api):
    response = api.get("/api/nothing-here")
    assert response.status_code == 404
    assert "error" in response.json()


def test_empty_embedding_input_is_400(api):
    assert api.post("/v1/embeddings", json={"input": []}).status_code == 400
    assert api.post("/v1/embeddings", json={"input": ""}).status_code == 400


def test_a_write_the_disk_refused_is_503_no_space_and_other_failures_a_json_500():
    """The handlers of every route (cove.daemon.api.errors): a full disk (ENOSPC, or SQLite's
    SQLITE_FULL) says so with code no_space; anything else unexpected is still the error
    document, never a bare "Internal Server Error"."""
    import errno
    import sqlite3

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from cove.daemon.api.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)
    failures = {
        "/enospc": OSError(errno.ENOSPC, "No space left on device"),
        "/sqlite": sqlite3.OperationalError("database or disk is full"),
        "/bug": KeyError("missing"),
    }
    for path, exc in failures.items():
        app.add_api_route(path, raising(exc))
    client = TestClient(app, raise_server_exceptions=False)
    for path in ("/enospc", "/sqlite"):
        response = client.get(path)
        assert response.status_code == 503
        error = response.json()["error"]
        assert error["code"] == "no_space" and "no space left on device" in error["message"]
    bug = client.get("/bug")
    assert bug.status_code == 500 and bug.json()["error"]["code"] == "internal_error"


def raising(exc: Exception):
    """A route that fails with `exc`."""

    def route() -> None:
        raise exc

    return route
