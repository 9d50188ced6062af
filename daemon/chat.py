"""The assistant's answer pipeline: history in, streamed answer out, everything stored.

Until the knowledge base exists every answer comes from general knowledge and is marked
`"grounded": false`, exactly as it will be with no watched folders.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import sqlite_utils

from cove.daemon import sessions
from cove.daemon.runtime import ContextOverflowError, GenerationParams, Message, Runtime

GENERAL_SYSTEM_PROMPT = (
    "You are Cove, a helpful assistant running offline on the user's own computer. "
    "Answer clearly and concisely."
)


@dataclass(frozen=True)
class AskRequest:
    question: str
    session_id: str | None = None
    general: bool = False
    params: GenerationParams = GenerationParams()


def fit_history(
    runtime: Runtime, system: str, turns: list[Message], question: str, answer_room: int
) -> list[Message]:
    """The longest recent history that leaves `answer_room` tokens for the answer.

    Oldest turns go first; the question itself is never dropped, so a question too long
    for the model is a ContextOverflowError, not a silent truncation.
    """
    context = runtime.backend.context_length
    head = [{"role": "system", "content": system}]
    tail = [{"role": "user", "content": question}]
    start = 0
    while True:
        messages = head + turns[start:] + tail
        used = runtime.backend.count_prompt_tokens(messages)
        if used + answer_room <= context:
            return messages
        if start >= len(turns):
            raise ContextOverflowError(used, context, answer_room)
        start += 2 if start + 1 < len(turns) else 1


async def ask(
    db: sqlite_utils.Database, runtime: Runtime, request: AskRequest, max_tokens: int
) -> AsyncIterator[dict]:
    """Yield `{"type": "token", "text"}` events, then `{"type": "done", "result"}`."""
    started = time.perf_counter()
    session_id = request.session_id
    if session_id:
        sessions.get_session(db, session_id)
        turns = sessions.history(db, session_id)
    else:
        session_id = sessions.create_session(db, request.question, general=True)
        turns = []
    answer_room = min(request.params.max_tokens or max_tokens, max_tokens)
    messages = fit_history(runtime, GENERAL_SYSTEM_PROMPT, turns, request.question, answer_room)
    prompt_built = time.perf_counter()
    # The question is logged before generation, so even a cancelled answer leaves a record.
    sessions.add_message(db, session_id, "user", request.question, model=runtime.backend.model_id)
    params = GenerationParams(
        max_tokens=answer_room,
        temperature=request.params.temperature,
        top_p=request.params.top_p,
        seed=request.params.seed,
    )
    parts: list[str] = []
    first_token: float | None = None
    final = None
    async for chunk in runtime.stream(messages, params):
        if chunk.finish_reason:
            final = chunk
        elif chunk.text:
            first_token = first_token or time.perf_counter()
            parts.append(chunk.text)
            yield {"type": "token", "text": chunk.text}
    ended = time.perf_counter()
    answer = "".join(parts).strip()
    backend = runtime.backend
    timings = {
        "retrieval_ms": 0.0,
        "prompt_ms": round((prompt_built - started) * 1000, 1),
        "first_token_ms": round(((first_token or ended) - started) * 1000, 1),
        "total_ms": round((ended - started) * 1000, 1),
        "prompt_tokens": final.prompt_tokens if final else 0,
        "completion_tokens": final.completion_tokens if final else 0,
        "finish_reason": final.finish_reason if final else "cancelled",
    }
    message_id = sessions.add_message(
        db,
        session_id,
        "assistant",
        answer,
        grounded=False,
        model=backend.model_id,
        adapter=backend.adapter,
        timings=timings,
    )
    yield {
        "type": "done",
        "result": {
            "answer": answer,
            "grounded": False,
            "session_id": session_id,
            "message_id": message_id,
            "sources": [],
            "model": backend.model_id,
            "adapter": backend.adapter,
            "timings": timings,
        },
    }
