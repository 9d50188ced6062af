"""GET /api/models and POST /api/models/use: what `cove models` uses."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from cove.daemon.api.errors import responses
from cove.daemon.api.state import CoveState
from cove.daemon.runtime.models import load_backend, local_models, resolve_model
from cove.daemon.runtime.ollama import PREFIX, list_ollama_models
from cove.daemon.store import set_setting

router = APIRouter(prefix="/api/models", tags=["models"])


class UseBody(BaseModel):
    name: str = Field(min_length=1, description="a model id, a .gguf path, or ollama:<name>")


@router.get("", summary="Chat models Cove can use, the current one marked")
async def models(state: CoveState) -> dict:
    current = state.runtime.backend.model_id
    found = [
        {"name": c.model_id, "backend": c.backend, "path": str(c.path), "current": False}
        for c in local_models(state.config)
    ]
    ollama = await run_in_threadpool(list_ollama_models, state.config.ollama.host)
    found += [
        {"name": PREFIX + n, "backend": "ollama", "path": None, "current": False} for n in ollama
    ]
    if current not in {m["name"] for m in found}:
        described = state.runtime.backend.describe()
        found.append(
            {
                "name": current,
                "backend": described["backend"],
                "path": described.get("path"),
                "current": False,
            }
        )
    for entry in found:
        entry["current"] = entry["name"] == current
    return {"current": current, "adapter": state.runtime.backend.adapter, "models": found}


@router.post(
    "/use",
    summary="Load another chat model; the current one stays on failure",
    responses=responses(400, 503, notes={400: "Invalid request, or the model did not load"}),
)
async def use_model(state: CoveState, body: UseBody) -> dict:
    choice = resolve_model(body.name, state.config)
    backend = await run_in_threadpool(
        state.runtime.swap, lambda: load_backend(choice, state.config, adapter=None)
    )
    set_setting(state.db, "model", body.name)
    # An adapter belongs to the model it was trained for: never reload it over another.
    set_setting(state.db, "adapter", "")
    return {"current": backend.model_id, "model": backend.describe()}
