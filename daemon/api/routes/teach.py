"""/api/teach: add a question and its answer to the teach folder, for the next training."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from cove.daemon.api.errors import responses
from cove.daemon.api.state import CoveState
from cove.finetune.teach import teach

router = APIRouter(prefix="/api/teach", tags=["training"])


class TeachBody(BaseModel):
    question: str = Field(min_length=1, max_length=20_000, pattern=r"\S")
    answer: str = Field(min_length=1, max_length=20_000, pattern=r"\S")


@router.post(
    "", summary="Teach Cove a fact: one question and answer pair", responses=responses(400)
)
def add_pair(state: CoveState, body: TeachBody) -> dict:
    written = teach(state.teach_folder, body.question, body.answer)
    return {"taught": written, "question": body.question.strip(), "answer": body.answer.strip()}
