"""GET /api/status: what `cove status` shows."""

from __future__ import annotations

from fastapi import APIRouter

from cove.daemon.api.state import CoveState

router = APIRouter(prefix="/api", tags=["daemon"])


@router.get("/status", summary="Daemon, model and index state (shape fixed in design.md)")
def status(state: CoveState) -> dict:
    return state.status()
