"""/api/memories: what the user taught Cove, listed, added, searched and forgotten."""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, Query

from cove.daemon.api.errors import ApiError, responses
from cove.daemon.api.routes.teach import TeachBody
from cove.daemon.api.state import CoveState, DaemonState
from cove.daemon.records.memories import Memories, Memory, MemoryNotFoundError

router = APIRouter(prefix="/api/memories", tags=["memories"])


def _memories(state: DaemonState) -> Memories:
    memories = state.get_assistant().memories
    assert memories is not None  # the daemon always gives its assistant the teach folder
    return memories


@router.get("", summary="Every memory, in the order of the teach folder's files")
async def list_memories(state: CoveState) -> dict:
    found = await asyncio.to_thread(_memories(state).all)
    return {"memories": [m.as_dict() for m in found]}


@router.post(
    "",
    summary="Remember a question and its answer (written to the teach folder)",
    responses=responses(400),
)
async def add_memory(state: CoveState, body: TeachBody) -> dict:
    memory = await asyncio.to_thread(_memories(state).add, body.question, body.answer)
    return {"memory": memory.as_dict()}


@router.get(
    "/search",
    summary="The memories closest to a query, with their scores",
    responses=responses(400),
)
async def search_memories(
    state: CoveState,
    q: str = Query(min_length=1, max_length=20_000, description="what to look for"),
    limit: int = Query(5, ge=1, le=100),
) -> dict:
    hits = await asyncio.to_thread(_memories(state).search, q, limit)
    return {
        "query": q,
        "results": [
            {"memory": h.memory.as_dict(), "dense": round(h.dense, 4), "keyword": h.keyword}
            for h in hits
        ],
    }


@router.delete(
    "/{memory_id}",
    summary="Forget a memory: removed from its file, so from answers at once; adapters "
    "trained on it are listed (and flagged in /api/adapters)",
    responses=responses(404),
)
async def forget_memory(state: CoveState, memory_id: str) -> dict:
    try:
        memory = await asyncio.to_thread(_memories(state).forget, memory_id)
    except MemoryNotFoundError as exc:
        raise ApiError(404, str(exc), "memory_not_found") from None
    trained = await asyncio.to_thread(_adapter_provenance, state)
    return {
        "forgotten": memory.as_dict(),
        "adapters_trained_on_it": [
            adapter_id for adapter_id, provenance in trained if _trained_on(provenance, memory)
        ],
    }


def _adapter_provenance(state: DaemonState) -> list[tuple[str, list[dict]]]:
    """Each registered adapter's id and what it was trained from, newest first."""
    sql = "SELECT id, provenance FROM adapters ORDER BY created_at DESC"
    return [(row["id"], json.loads(row["provenance"])) for row in state.db.query(sql)]


def _trained_on(provenance: list[dict], memory: Memory) -> bool:
    """Whether an adapter's provenance holds the memory: by its digest, or (entries
    written before digests) by its file and line."""
    digest = memory.id.removeprefix("mem_")
    for entry in provenance:
        if entry.get("digest") == digest:
            return True
        same_line = entry.get("path") == memory.path and entry.get("line") == memory.line
        if entry.get("kind") == "teach" and "digest" not in entry and same_line:
            return True
    return False
