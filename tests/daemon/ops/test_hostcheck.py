"""Loopback Host names only (DNS rebinding): the middleware, and a real daemon behind it."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from cove.daemon.api.errors import error_body
from cove.daemon.ops.hostcheck import LoopbackHostOnly, loopback_host, refusal

PORT = 8771
ACCEPTED = ["127.0.0.1", "localhost", "[::1]", "LOCALHOST", "127.0.0.1:8771", "[::1]:8771"]
REFUSED = [
    "evil.example",
    "evil.example:8771",
    "127.0.0.1:8772",  # another port on loopback is another server
    "localhost.:8771",
    "127.0.0.2:8771",
    "::1",  # an IPv6 address in Host is bracketed
    "",
]


@pytest.mark.parametrize("host", ACCEPTED)
def test_loopback_names_with_the_port_or_none_are_accepted(host):
    assert loopback_host(host, PORT)


@pytest.mark.parametrize("host", REFUSED)
def test_other_hosts_and_ports_are_refused(host):
    assert not loopback_host(host, PORT)


def test_the_refusal_is_the_apis_error_document():
    body = refusal("evil.example", PORT)
    assert body == error_body(body["error"]["message"], "misdirected_request")
    assert "'evil.example'" in body["error"]["message"]


def call(app, headers: dict[str, str]) -> httpx.Response:
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.get("/", headers=headers)

    return asyncio.run(go())


def test_the_middleware_answers_421_before_the_app_runs():
    ran = []

    async def home(request):
        ran.append(request.headers["host"])
        return PlainTextResponse("served")

    app = LoopbackHostOnly(Starlette(routes=[Route("/", home)]), PORT)
    assert call(app, {"Host": "localhost:8771"}).text == "served"
    refused = call(app, {"Host": "evil.example:8771"})
    assert refused.status_code == 421
    assert refused.json()["error"]["code"] == "misdirected_request"
    assert ran == ["localhost:8771"]


# --- a real daemon ------------------------------------------------------------------------


def get(daemon, path: str, host: str | None, token: bool = True) -> httpx.Response:
    headers = {"Authorization": f"Bearer {daemon.token}"} if token else {}
    if host is not None:
        headers["Host"] = host
    return httpx.get(f"{daemon.url}{path}", headers=headers, trust_env=False, timeout=30)


def test_a_real_daemon_refuses_a_foreign_host_even_with_the_token(daemon):
    refused = get(daemon, "/api/status", "evil.example")
    assert refused.status_code == 421
    assert set(refused.json()["error"]) == {"message", "type", "code"}
    assert get(daemon, "/api/status", f"evil.example:{daemon.port}").status_code == 421
    assert get(daemon, "/api/status", f"127.0.0.1:{daemon.port + 1}").status_code == 421
    # Before the token: a rebinding page without it learns nothing more than with it.
    assert get(daemon, "/api/status", "evil.example", token=False).status_code == 421
    assert get(daemon, "/openapi.json", "evil.example", token=False).status_code == 421
    assert get(daemon, "/docs", "evil.example", token=False).status_code == 421


def test_a_real_daemon_answers_loopback_names(daemon):
    for name in ("127.0.0.1", "localhost", "[::1]"):
        for host in (name, f"{name}:{daemon.port}"):
            assert get(daemon, "/api/status", host).status_code == 200, host
    assert get(daemon, "/openapi.json", None, token=False).status_code == 200
    with daemon.client() as client:  # what the CLI, the TUI and the MCP server use
        assert client.status()["port"] == daemon.port
