"""GET /api/status: what `cove status` shows."""

from __future__ import annotations

from fastapi import APIRouter, Request

router = APIRouter(prefix="/api", tags=["daemon"])


@router.get("/status", summary="Daemon, model and index state (shape fixed in design.md)")
async def status(request: Request) -> dict:
    return request.app.state.cove.status()
