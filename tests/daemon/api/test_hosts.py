"""The API answers only requests that name a loopback host (DNS rebinding), spec included."""

from __future__ import annotations

import pytest

from tests.daemon.api.conftest import TOKEN

PATHS = [
    ("GET", "/openapi.json"),
    ("GET", "/api/status"),
    ("POST", "/v1/chat/completions"),
    ("GET", "/api/files/content"),
    ("GET", "/no/such/route"),
]


@pytest.mark.parametrize(("method", "path"), PATHS)
def test_a_foreign_host_is_421_with_or_without_the_token(api, method, path):
    for token in (None, TOKEN):
        response = api.request(method, path, token=token, headers={"Host": "evil.example"})
        assert response.status_code == 421, (path, token)
        assert response.json()["error"]["code"] == "misdirected_request"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost:8771", "[::1]:8771"])
def test_loopback_names_reach_the_routes(api, host):
    assert api.get("/api/status", headers={"Host": host}).status_code == 200
    assert api.get("/openapi.json", token=None, headers={"Host": host}).status_code == 200
