"""/api/train: start, watch and cancel training runs, and the nightly schedule."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from cove.daemon.api.errors import ApiError, responses
from cove.daemon.api.sse import poll_events, sse_content, sse_response
from cove.daemon.api.state import CoveState, DaemonState
from cove.daemon.learn.run import TERMINAL
from cove.daemon.learn.training import RunNotFoundError, TrainingBusyError

router = APIRouter(prefix="/api/train", tags=["training"])

EVENT_INTERVAL_S = 0.5


class StartBody(BaseModel):
    steps: int | None = Field(None, ge=1, le=100_000, description="training steps ([train] steps)")


class ScheduleBody(BaseModel):
    enabled: bool = Field(True, description="false turns the nightly run off")
    time: str | None = Field(None, description="HH:MM, 24-hour local time, e.g. 02:00")


def _training(state: DaemonState):
    training = state.training
    if training is None:
        raise ApiError(503, "training is not available in this daemon", "training_unavailable")
    return training


@router.get(
    "",
    summary="Training: the run in progress, latest runs, schedule, conditions",
    responses=responses(400),
)
async def train_status(state: CoveState, limit: int = Query(10, ge=1, le=1000)) -> dict:
    return await asyncio.to_thread(state.training_status, limit)


@router.post(
    "",
    status_code=202,
    summary="Start a training run now (whatever the hardware)",
    responses=responses(400, 409, 503, notes={409: "A run is in progress"}),
)
async def start(state: CoveState, body: StartBody | None = None) -> dict:
    training = _training(state)
    try:
        run = await asyncio.to_thread(training.start, "now", body.steps if body else None)
    except TrainingBusyError as exc:
        raise ApiError(409, str(exc), "training_in_progress") from None
    return {"run": run}


@router.post(
    "/cancel",
    summary="Stop the run in progress (the steps done are kept)",
    responses=responses(409, 503, notes={409: "No run is in progress"}),
)
async def cancel(state: CoveState) -> dict:
    run = _training(state).cancel()
    if run is None:
        raise ApiError(409, "no training run is in progress", "no_training_run")
    return {"run": run}


@router.get(
    "/runs/{run_id}",
    summary="One training run: stage, progress, losses, decision",
    responses=responses(404, 503),
)
def get_run(state: CoveState, run_id: str) -> dict:
    try:
        return {"run": _training(state).get_run(run_id)}
    except RunNotFoundError as exc:
        raise ApiError(404, str(exc), "run_not_found") from None


@router.get(
    "/runs/{run_id}/events",
    summary="SSE: a `run` event whenever the run changes; the stream ends with the run",
    response_class=StreamingResponse,  # no JSON 200: the stream is all it answers
    responses=sse_content("`run` events, and a keep-alive comment when quiet", events=("run",))
    | responses(404, 503),
)
async def run_events(state: CoveState, run_id: str, request: Request):
    training = _training(state)
    try:
        training.get_run(run_id)
    except RunNotFoundError as exc:
        raise ApiError(404, str(exc), "run_not_found") from None

    async def run() -> dict:
        return await asyncio.to_thread(training.get_run, run_id)

    events = poll_events(
        request, run, "run", EVENT_INTERVAL_S, last=lambda doc: doc["status"] in TERMINAL
    )
    return sse_response(events)


@router.put(
    "/schedule",
    summary="Train every night at a time, or turn the schedule off",
    responses=responses(400, 503),
)
def set_schedule(state: CoveState, body: ScheduleBody) -> dict:
    scheduler = state.scheduler
    if scheduler is None:
        raise ApiError(503, "the scheduler is not running in this daemon", "scheduler_unavailable")
    if not body.enabled:
        return {"schedule": scheduler.turn_off()}
    if not body.time:
        raise ApiError(400, "give a time of day, e.g. 02:00", "invalid_time")
    try:
        return {"schedule": scheduler.set_daily(body.time)}
    except ValueError as exc:
        raise ApiError(400, str(exc), "invalid_time") from None
