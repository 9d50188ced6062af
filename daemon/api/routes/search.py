"""/api/search: hybrid search over the watched folders (what `cove search` uses)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from cove.daemon.answer.evidence import keyword_snippet
from cove.daemon.api.errors import responses
from cove.daemon.api.state import CoveState

router = APIRouter(prefix="/api", tags=["search"])


class SearchBody(BaseModel):
    query: str = Field(min_length=1)
    k: int | None = Field(None, ge=1, le=100)
    dense_weight: float | None = Field(None, ge=0)
    bm25_weight: float | None = Field(None, ge=0)
    mmr_lambda: float | None = Field(None, ge=0, le=1)


@router.post(
    "/search",
    summary="Chunks for a query: dense + BM25, fused, MMR, top-k",
    responses=responses(400),
)
async def search(state: CoveState, body: SearchBody) -> dict:
    # None means "as configured"; a λ of 1.0 (MMR off) is passed on as it is.
    overrides = body.model_dump(exclude={"query"})
    hits, timings = await run_in_threadpool(state.retriever.search, body.query, **overrides)
    return {
        "query": body.query,
        "results": [
            {**hit.as_dict(rank), "snippet": keyword_snippet(body.query, hit.text)}
            for rank, hit in enumerate(hits, start=1)
        ],
        "timings": timings,
    }
