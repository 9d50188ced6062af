"""The API mounted on httpx's ASGITransport over real models and a real database."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from cove.daemon.api import build_app
from cove.daemon.api.state import DaemonState
from cove.daemon.config import load_config
from cove.daemon.runtime import Runtime
from cove.daemon.serve import build_assistant
from cove.daemon.store import open_db

TOKEN = "test-token-0123456789"
BASE_URL = "http://127.0.0.1"


class Api:
    """Synchronous calls onto the ASGI app, for readable tests."""

    def __init__(self, app) -> None:
        self.app = app

    def request(self, method: str, path: str, token: str | None = TOKEN, **kwargs):
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"

        async def go():
            transport = httpx.ASGITransport(app=self.app)
            # A loopback Host, as real clients send: the API refuses any other name.
            async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
                return await client.request(method, path, headers=headers, **kwargs)

        return asyncio.run(go())

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs):
        return self.request("POST", path, **kwargs)


def sse_events(text: str) -> list[tuple[str, object]]:
    """(event, data) pairs of an SSE body; data is parsed JSON, or the raw string."""
    events = []
    for block in text.strip().split("\n\n"):
        event, data = "message", []
        for line in block.splitlines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        raw = "\n".join(data)
        try:
            events.append((event, json.loads(raw)))
        except ValueError:
            events.append((event, raw))
    return events


@pytest.fixture(scope="module")
def state(tmp_path_factory, llama_backend, embedder):
    home = tmp_path_factory.mktemp("api-home")
    config = load_config(home, environ={})
    runtime = Runtime(llama_backend)
    db = open_db(config.paths.db)
    yield DaemonState(
        config=config,
        db=db,
        runtime=runtime,
        embedder=embedder,
        token=TOKEN,
        assistant=build_assistant(config, db, runtime, None, embedder),
    )
    runtime._executor.shutdown(wait=True)


@pytest.fixture(scope="module")
def api(state) -> Api:
    return Api(build_app(state))
