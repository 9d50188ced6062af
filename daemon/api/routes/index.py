"""/api/index/...: progress, errors, pause/resume, rescan, rebuild, and an SSE event stream."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from cove.daemon.api.errors import ApiError, responses
from cove.daemon.api.sse import poll_events, sse_content, sse_response
from cove.daemon.api.state import CoveState
from cove.daemon.ingest.diskspace import NoSpaceError
from cove.index import manifest

router = APIRouter(prefix="/api/index", tags=["index"])

EVENT_INTERVAL_S = 0.25


@router.get("/status", summary="Index progress: state, counts, current file")
def index_status(state: CoveState) -> dict:
    return state.indexer.status()


@router.get("/errors", summary="Files that failed, with the reason; why indexing is paused")
def index_errors(state: CoveState) -> dict:
    indexer = state.indexer
    return {
        "failed": manifest.failures(indexer.reader()),
        "paused_reason": indexer.status()["paused_reason"],
    }


Action = Literal["pause", "resume", "rescan", "rebuild"]


@router.post(
    "/{action}",
    summary="pause | resume indexing, rescan every folder now, or rebuild the vector store "
    "from SQLite without re-embedding",
    responses=responses(
        400,
        503,
        notes={503: "The rebuild failed (e.g. no space left on device); the message says why"},
    ),
)
async def act(state: CoveState, action: Action) -> dict:
    indexer = state.indexer
    if action == "rebuild":  # answered once it is done, so a failure is never reported as ok
        try:
            rebuilt = await asyncio.wrap_future(indexer.rebuild())
        except Exception as exc:  # noqa: BLE001 - whatever failed, the answer says what
            code = "no_space" if isinstance(exc, NoSpaceError) else "rebuild_failed"
            raise ApiError(503, f"rebuild failed: {exc}", code) from exc
        return {**indexer.status(), "rebuilt": rebuilt}
    getattr(indexer, action)()
    return indexer.status()


@router.get(
    "/events",
    summary="SSE: a `status` event whenever the index status changes",
    response_class=StreamingResponse,  # no JSON 200: the stream is all it answers
    responses=sse_content(
        "`status` events, and a keep-alive comment when quiet", events=("status",)
    ),
)
async def events(state: CoveState, request: Request):
    indexer = state.indexer

    async def status() -> dict:
        return indexer.status()

    return sse_response(poll_events(request, status, "status", EVENT_INTERVAL_S))
