"""POST /api/ask: the assistant, with sessions; what `cove ask` uses."""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from cove.daemon.answer.pipeline import AskRequest
from cove.daemon.api.disconnect import unless_disconnected
from cove.daemon.api.errors import error_body, responses
from cove.daemon.api.sse import sse_content, sse_data, sse_response
from cove.daemon.api.state import CoveState
from cove.daemon.records.sessions import get_session
from cove.daemon.runtime import GenerationParams, RuntimeErrorBase

router = APIRouter(prefix="/api", tags=["assistant"])


class AskBody(BaseModel):
    question: str = Field(min_length=1)
    session_id: str | None = None
    general: bool = False
    stream: bool = True
    max_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    seed: int | None = None

    def to_request(self, default_temperature: float) -> AskRequest:
        temperature = default_temperature if self.temperature is None else self.temperature
        return AskRequest(
            question=self.question,
            session_id=self.session_id,
            general=self.general,
            params=GenerationParams(
                max_tokens=self.max_tokens, temperature=temperature, seed=self.seed
            ),
            temperature_set=self.temperature is not None,
        )


@router.post(
    "/ask",
    summary="Ask the assistant",
    description="Answers from the watched folders with numbered sources, or says it does "
    "not know; with no folders, `general: true` or a general session, from general knowledge "
    '(`"grounded": false`). Streams a `session` event (its `session_id`), `token` events, '
    "then one `done` event carrying the `cove ask --json` document; with `stream: false` "
    "returns that document. `max_tokens` is capped by [chat] max_tokens for grounded "
    'answers and [model] max_tokens for any; `timings.finish_reason` is `"timeout"` when '
    "[model] request_timeout_s stopped the answer.",
    responses=sse_content(
        "With `stream: true` (the default) SSE events, else the document",
        events=("session", "token", "replace", "done", "error"),
    )
    | responses(400, 404, 503, notes={404: "No session with that `session_id`"}),
)
async def ask_route(state: CoveState, body: AskBody, request: Request):
    if body.session_id:
        get_session(state.db, body.session_id)  # a 404 before streaming starts
    ask_request = body.to_request(state.config.model.temperature)
    events = state.get_assistant().ask(ask_request)
    if not body.stream:
        return await unless_disconnected(request, _result(events))
    return sse_response(_sse(events))


async def _result(events: AsyncIterator[dict]) -> dict | None:
    """The `done` event's document."""
    result = None
    async for event in events:
        if event["type"] == "done":
            result = event["result"]
    return result


async def _sse(events: AsyncIterator[dict]) -> AsyncIterator[str]:
    try:
        async for event in events:
            if event["type"] == "token":
                yield sse_data({"text": event["text"]}, event="token")
            elif event["type"] == "session":
                yield sse_data({"session_id": event["session_id"]}, event="session")
            elif event["type"] == "replace":
                yield sse_data({"text": event["text"], "reason": event["reason"]}, event="replace")
            else:
                yield sse_data(event["result"], event="done")
    except RuntimeErrorBase as exc:
        yield sse_data(error_body(str(exc), exc.code), event="error")
