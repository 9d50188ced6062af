"""/api/messages: one message, and feedback on the assistant's answers (`cove feedback`)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field, model_validator

from cove.daemon.api.errors import ApiError, responses
from cove.daemon.api.state import CoveState
from cove.daemon.records import feedback, sessions

router = APIRouter(prefix="/api/messages", tags=["sessions"])


class FeedbackBody(BaseModel):
    rating: Literal["up", "down"] | None = Field(
        None, description="'up' or 'down'; null or left out keeps the stored rating"
    )
    correction: str | None = Field(
        None,
        min_length=1,
        max_length=20000,
        description="the answer you wanted; null or left out keeps the stored correction",
    )

    @model_validator(mode="after")
    def _something_given(self) -> FeedbackBody:
        if self.rating is None and self.correction is None:
            raise ValueError("give a rating ('up' or 'down'), a correction, or both")
        return self


@router.get(
    "/{message_id}",
    summary="One message with its sources, timings and feedback",
    responses=responses(404),
)
def get_message(state: CoveState, message_id: str) -> dict:
    return {"message": sessions.get_message(state.connection(), message_id)}


@router.put(
    "/{message_id}/feedback",
    tags=["feedback"],
    summary="Rate an answer up or down and/or correct it",
    description="Fields left out or null keep their stored value; "
    "DELETE clears the feedback. Only the assistant's answers take feedback.",
    responses=responses(400, 404),
)
def put_feedback(state: CoveState, message_id: str, body: FeedbackBody) -> dict:
    try:
        stored = feedback.set_feedback(state.connection(), message_id, body.rating, body.correction)
    except feedback.FeedbackError as exc:
        raise ApiError(400, str(exc), "invalid_feedback") from None
    state.forget_removed()  # a rating taken back is no longer a training example
    return {"feedback": stored}


@router.delete(
    "/{message_id}/feedback",
    tags=["feedback"],
    summary="Clear an answer's rating and correction",
    responses=responses(400, 404, notes={400: "Not one of the assistant's answers"}),
)
def delete_feedback(state: CoveState, message_id: str) -> dict:
    try:
        cleared = feedback.delete_feedback(state.connection(), message_id)
    except feedback.FeedbackError as exc:
        raise ApiError(400, str(exc), "invalid_feedback") from None
    forgotten = state.forget_removed()
    return {"message_id": message_id, "cleared": cleared, "training_examples_forgotten": forgotten}
