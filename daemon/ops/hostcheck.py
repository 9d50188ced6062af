"""Loopback host names only: the API and `cove mcp --http` refuse any other Host header.

DNS rebinding: a web page points a name it controls (evil.example) at 127.0.0.1, and the
browser then lets it talk to a loopback port as its own origin, sending `Host:
evil.example:PORT`. Checking Host before anything else (the token, /openapi.json) makes
such a request fail whatever route it asks for. Only starlette is imported here, so the MCP
server can use this without loading the API.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
MISDIRECTED = 421  # RFC 9110: this server is not the one the request names
MAX_SHOWN = 100  # the refused Host is echoed back, cut to this length


def loopback_host(header: str, port: int) -> bool:
    """Whether a Host header names this loopback server: a loopback name with `port`,
    or without a port (some clients leave the default out)."""
    host = header.strip().lower()
    return any(host in (name, f"{name}:{port}") for name in LOOPBACK_NAMES)


def refusal(host: str | None, port: int) -> dict:
    """The error document of a refused request: the API's shape (`api.errors.error_body`)."""
    shown = "no Host header" if host is None else f"Host {host[:MAX_SHOWN]!r}"
    message = (
        f"{shown} does not name this server: Cove answers only http://127.0.0.1:{port} "
        "(or localhost, [::1]), which protects it from DNS rebinding"
    )
    return {
        "error": {
            "message": message,
            "type": "invalid_request_error",
            "code": "misdirected_request",
        }
    }


class LoopbackHostOnly:
    """ASGI middleware: 421 with the error document unless exactly one Host header names
    a loopback host (with `port` or no port). Lifespan events pass through."""

    def __init__(self, app: ASGIApp, port: int) -> None:
        self.app = app
        self.port = port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        hosts = Headers(scope=scope).getlist("host")
        if len(hosts) == 1 and loopback_host(hosts[0], self.port):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # policy violation
            return
        body = refusal(hosts[0] if hosts else None, self.port)
        await JSONResponse(body, status_code=MISDIRECTED)(scope, receive, send)
