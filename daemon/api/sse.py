"""Server-sent events: framing and the streaming response used by every streamed route."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from fastapi import Request
from fastapi.responses import StreamingResponse

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
HEARTBEAT_S = 15.0  # a keep-alive comment after this long without an event


def sse_content(description: str, events: tuple[str, ...] = ("message",)) -> dict:
    """A 200 of `responses=` for a streamed route: text/event-stream, whose `schema`
    describes one event (OpenAPI 3.1); an event without a name is a "message"."""
    event = {
        "type": "object",
        "required": ["event", "data"],
        "properties": {
            "event": {"type": "string", "enum": list(events)},
            "data": {"type": "string", "description": "JSON, or [DONE] at the end of /v1"},
        },
    }
    return {200: {"description": description, "content": {"text/event-stream": {"schema": event}}}}


def sse_data(payload: dict | str, event: str | None = None) -> str:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {data}\n\n"


def sse_response(events: AsyncIterator[str]) -> StreamingResponse:
    """Stream `events`; when the client disconnects Starlette cancels the iterator, and the
    runtime's iterator cancels generation in its `finally`."""
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)


async def poll_events(
    request: Request,
    read: Callable[[], Awaitable[dict]],
    event: str,
    interval_s: float,
    last: Callable[[dict], bool] = lambda _: False,
) -> AsyncIterator[str]:
    """An `event` each time `read()` answers something new, asked every `interval_s`, and a
    keep-alive comment after HEARTBEAT_S of quiet; until the client goes, or after the
    event whose value `last` accepts (a run that has ended)."""
    previous: dict | None = None
    quiet = 0.0
    while not await request.is_disconnected():
        value = await read()
        if value != previous:
            yield sse_data(value, event=event)
            previous, quiet = value, 0.0
            if last(value):
                return
        elif quiet >= HEARTBEAT_S:
            yield ": keep-alive\n\n"
            quiet = 0.0
        await asyncio.sleep(interval_s)
        quiet += interval_s
