"""/api/sessions: the chat sessions and their messages (what `cove sessions` uses)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from cove.daemon.api.errors import ApiError, responses
from cove.daemon.api.state import DaemonState
from cove.daemon.records import sessions

router = APIRouter(prefix="/api/sessions", tags=["sessions"])


class RenameBody(BaseModel):
    title: str = Field(min_length=1, max_length=200, description="the session's new title")


def _state(request: Request) -> DaemonState:
    return request.app.state.cove


@router.get(
    "",
    summary="Sessions, most recent first, with message counts",
    description="`q` keeps the sessions whose title or messages contain it.",
    responses=responses(400),
)
async def list_sessions(
    request: Request,
    q: str | None = Query(None, min_length=1, description="text to look for"),
    limit: int | None = Query(None, ge=1, le=10000),
) -> dict:
    return {"sessions": sessions.list_sessions(_state(request).db, q, limit)}


@router.get(
    "/{session_id}",
    summary="A session with all its messages, sources and feedback",
    responses=responses(404),
)
async def get_session(session_id: str, request: Request) -> dict:
    return sessions.export_json(_state(request).db, session_id)


@router.patch("/{session_id}", summary="Rename a session", responses=responses(400, 404))
async def rename_session(session_id: str, body: RenameBody, request: Request) -> dict:
    try:
        session = sessions.rename_session(_state(request).db, session_id, body.title)
    except ValueError as exc:
        raise ApiError(400, str(exc), "invalid_title") from None
    return {"session": session}


@router.delete(
    "/{session_id}",
    summary="Delete a session, its messages and their feedback",
    responses=responses(404),
)
async def delete_session(session_id: str, request: Request) -> dict:
    state = _state(request)
    deleted = sessions.delete_session(state.db, session_id)
    return {"deleted": deleted | {"training_examples_forgotten": state.forget_removed()}}


@router.get(
    "/{session_id}/export",
    summary="Export a session as Markdown (text/markdown) or JSON",
    response_model=None,
    responses={200: {"content": {"text/markdown": {}, "application/json": {}}}}
    | responses(400, 404),
)
async def export_session(
    session_id: str,
    request: Request,
    format: Literal["md", "json"] = Query("md", description="md or json"),
) -> dict | PlainTextResponse:
    db = _state(request).db
    if format == "json":
        return sessions.export_json(db, session_id)
    return PlainTextResponse(
        sessions.export_markdown(db, session_id), media_type="text/markdown; charset=utf-8"
    )
