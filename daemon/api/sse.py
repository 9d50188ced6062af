"""Server-sent events: framing and the streaming response used by every streamed route."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


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
