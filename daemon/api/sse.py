"""Server-sent events: framing and the streaming response used by every streamed route."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_data(payload: dict | str, event: str | None = None) -> str:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {data}\n\n"


def sse_response(events: AsyncIterator[str]) -> StreamingResponse:
    """Stream `events`; when the client disconnects Starlette cancels the iterator, and the
    runtime's iterator cancels generation in its `finally`."""
    return StreamingResponse(events, media_type="text/event-stream", headers=SSE_HEADERS)
