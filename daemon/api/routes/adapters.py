"""/api/adapters: the adapter registry (list, activate, roll back, delete)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from pydantic import BaseModel, Field

from cove.daemon.api.errors import ApiError, responses
from cove.daemon.api.state import CoveState
from cove.daemon.learn import adapters

router = APIRouter(prefix="/api/adapters", tags=["adapters"])


class OllamaBody(BaseModel):
    name: str | None = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$", description="the Ollama model's name"
    )
    base: str | None = Field(None, description="an Ollama model or a GGUF path to build on")


def _not_found(exc: LookupError) -> ApiError:
    return ApiError(404, str(exc.args[0] if exc.args else exc), "adapter_not_found")


@router.get(
    "",
    summary="Adapters, newest first: status, metrics, data statistics, whether active, and "
    "whether trained on data since removed",
)
async def list_adapters(state: CoveState) -> dict:
    return {"adapters": await asyncio.to_thread(state.adapter_list)}


@router.get(
    "/{adapter_id}",
    summary="One adapter with its full metrics and provenance",
    responses=responses(404),
)
def get_adapter(state: CoveState, adapter_id: str) -> dict:
    try:
        return {"adapter": adapters.get_adapter(state.connection(), adapter_id)}
    except adapters.AdapterNotFoundError as exc:
        raise _not_found(exc) from None


@router.post(
    "/rollback",
    summary="Go back to the adapter active before (or to none)",
    responses=responses(409, notes={409: "No adapter is active, or the one before was refused"}),
)
async def rollback(state: CoveState) -> dict:
    try:
        path = await asyncio.to_thread(adapters.rollback, state.db, state.runtime, state.config)
    except adapters.AdapterError as exc:
        raise ApiError(409, str(exc), "adapter_refused") from None
    return {"adapter": path, "status": state.status()}


@router.post(
    "/{adapter_id}/activate",
    summary="Load an adapter into the running model (a broken one is refused)",
    responses=responses(404, 409, notes={409: "Refused: another base model, or it did not load"}),
)
async def activate(state: CoveState, adapter_id: str) -> dict:
    try:
        adapter = await asyncio.to_thread(
            adapters.activate, state.db, state.runtime, state.config, adapter_id
        )
    except adapters.AdapterNotFoundError as exc:
        raise _not_found(exc) from None
    except adapters.AdapterError as exc:
        raise ApiError(409, str(exc), "adapter_refused") from None
    return {"adapter": adapter}


@router.post(
    "/{adapter_id}/ollama",
    summary="Create an Ollama model from the adapter's base with the adapter applied",
    responses=responses(400, 404, 502),
)
async def to_ollama(state: CoveState, adapter_id: str, body: OllamaBody | None = None) -> dict:
    body = body or OllamaBody()
    try:
        return await asyncio.to_thread(
            adapters.to_ollama, state.db, state.config, adapter_id, body.name, body.base
        )
    except adapters.AdapterNotFoundError as exc:
        raise _not_found(exc) from None
    except adapters.AdapterError as exc:
        raise ApiError(502, str(exc), "ollama_failed") from None


@router.delete(
    "/{adapter_id}",
    summary="Delete an adapter that is not active",
    responses=responses(404, 409, notes={409: "The adapter is active"}),
)
def delete(state: CoveState, adapter_id: str) -> dict:
    try:
        return adapters.delete(state.connection(), adapter_id)
    except adapters.AdapterNotFoundError as exc:
        raise _not_found(exc) from None
    except adapters.AdapterError as exc:
        raise ApiError(409, str(exc), "adapter_active") from None
