"""/api/sessions: the chat sessions and their messages (what `cove sessions` uses)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from cove.daemon.api.errors import ApiError, responses
from cove.daemon.api.state import CoveState
from cove.daemon.records import sessions

router = APIRouter(prefix="/api/sessions", tags=["sessions"])


class RenameBody(BaseModel):
    title: str = Field(min_length=1, max_length=200, description="the session's new title")


@router.get(
    "",
    summary="Sessions, most recent first, with message counts",
    description="`q` keeps the sessions whose title or messages contain it.",
    responses=responses(400),
)
def list_sessions(
    state: CoveState,
    request: Request,
    q: str | None = Query(None, min_length=1, description="text to look for"),
    limit: int | None = Query(None, ge=1, le=10000),
) -> dict:
    return {"sessions": sessions.list_sessions(state.connection(), q, limit)}


@router.get(
    "/{session_id}",
    summary="A session with all its messages, sources and feedback",
    responses=responses(404),
)
def get_session(state: CoveState, session_id: str) -> dict:
    return sessions.export_json(state.connection(), session_id)


@router.patch("/{session_id}", summary="Rename a session", responses=responses(400, 404))
def rename_session(state: CoveState, session_id: str, body: RenameBody) -> dict:
    try:
        session = sessions.rename_session(state.connection(), session_id, body.title)
    except ValueError as exc:
        raise ApiError(400, str(exc), "invalid_title") from None
    return {"session": session}


@router.delete(
    "/{session_id}",
    summary="Delete a session, its messages and their feedback",
    responses=responses(404),
)
def delete_session(state: CoveState, session_id: str) -> dict:
    deleted = sessions.delete_session(state.connection(), session_id)
    return {"deleted": deleted | {"training_examples_forgotten": state.forget_removed()}}


@router.get(
    "/{session_id}/export",
    summary="Export a session as Markdown (text/markdown) or JSON",
    response_model=None,
    responses={200: {"content": {"text/markdown": {}, "application/json": {}}}}
    | responses(400, 404),
)
def export_session(
    state: CoveState,
    session_id: str,
    format: Literal["md", "json"] = Query("md", description="md or json"),
) -> dict | PlainTextResponse:
    db = state.connection()
    if format == "json":
        return sessions.export_json(db, session_id)
    return PlainTextResponse(
        sessions.export_markdown(db, session_id), media_type="text/markdown; charset=utf-8"
    )
