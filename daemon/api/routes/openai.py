"""The OpenAI-compatible surface: /v1/models, /v1/chat/completions, /v1/embeddings."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from cove.daemon.api.errors import ApiError, error_body
from cove.daemon.api.sse import sse_data, sse_response
from cove.daemon.api.state import DaemonState
from cove.daemon.chat import GENERAL_SYSTEM_PROMPT
from cove.daemon.runtime import GenerationParams, Message, RuntimeErrorBase

router = APIRouter(prefix="/v1", tags=["openai"])

PIPELINE_MODEL = "cove"
MAX_EMBED_INPUTS = 2048


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str | list[TextPart]

    def as_message(self) -> Message:
        text = self.content
        if isinstance(text, list):
            text = "".join(part.text for part in text)
        return {"role": self.role, "content": text}


class ChatCompletionRequest(BaseModel):
    model: str | None = Field(None, description="'cove' (the assistant) or the raw model id")
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(0.7, ge=0, le=2)
    top_p: float = Field(0.95, gt=0, le=1)
    seed: int | None = None
    stop: str | list[str] | None = None

    def params(self) -> GenerationParams:
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return GenerationParams(
            max_tokens=self.max_completion_tokens or self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
            stop=stop,
        )


class EmbeddingRequest(BaseModel):
    input: str | list[str]
    model: str | None = None
    encoding_format: Literal["float"] = "float"


def _state(request: Request) -> DaemonState:
    return request.app.state.cove


def _model_entry(model_id: str, owner: str) -> dict:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": owner}


@router.get(
    "/models", summary="Chat models first (the Cove assistant, the raw model), then embeddings"
)
async def list_models(request: Request) -> dict:
    state = _state(request)
    return {
        "object": "list",
        "data": [
            _model_entry(PIPELINE_MODEL, "cove"),
            _model_entry(state.runtime.backend.model_id, state.runtime.backend.backend),
            _model_entry(state.embedder.name, "sentence-transformers"),
        ],
    }


def _messages_for(state: DaemonState, body: ChatCompletionRequest) -> tuple[str, list[Message]]:
    raw_id = state.runtime.backend.model_id
    messages = [m.as_message() for m in body.messages]
    if body.model in (None, "", raw_id):
        return raw_id, messages
    if body.model == PIPELINE_MODEL:
        if messages[0]["role"] != "system":
            messages.insert(0, {"role": "system", "content": GENERAL_SYSTEM_PROMPT})
        return PIPELINE_MODEL, messages
    raise ApiError(
        404,
        f"model {body.model!r} is not loaded; use {PIPELINE_MODEL!r} or {raw_id!r}",
        "model_not_found",
    )


@router.post("/chat/completions", summary="Chat completion, streamed over SSE or not")
async def chat_completions(body: ChatCompletionRequest, request: Request):
    state = _state(request)
    model, messages = _messages_for(state, body)
    params = body.params()
    state.runtime.check_prompt(messages, params)  # a 400 before any byte is streamed
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    if body.stream:
        return sse_response(_stream_chunks(state, model, messages, params, completion_id, created))
    parts, final = [], None
    async for chunk in state.runtime.stream(messages, params):
        if chunk.finish_reason:
            final = chunk
        else:
            parts.append(chunk.text)
    response = {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "".join(parts)},
                "finish_reason": final.finish_reason if final else "stop",
            }
        ],
        "usage": _usage(final),
    }
    if model == PIPELINE_MODEL:
        response["sources"] = []
    return response


def _usage(final) -> dict:
    prompt = final.prompt_tokens if final else 0
    completion = final.completion_tokens if final else 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


async def _stream_chunks(
    state: DaemonState,
    model: str,
    messages: list[Message],
    params: GenerationParams,
    completion_id: str,
    created: int,
) -> AsyncIterator[str]:
    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        return sse_data(
            {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
        )

    yield chunk({"role": "assistant", "content": ""})
    try:
        async for part in state.runtime.stream(messages, params):
            if part.finish_reason:
                yield chunk({}, part.finish_reason, usage=_usage(part))
            elif part.text:
                yield chunk({"content": part.text})
    except RuntimeErrorBase as exc:
        yield sse_data(error_body(str(exc), exc.code))
    if model == PIPELINE_MODEL:
        yield sse_data({"id": completion_id, "object": "cove.sources", "sources": []})
    yield sse_data("[DONE]")


@router.post("/embeddings", summary="Embed text with the daemon's sentence-transformers model")
async def embeddings(body: EmbeddingRequest, request: Request) -> dict:
    state = _state(request)
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not texts or any(not t for t in texts):
        raise ApiError(
            400, "input must be a non-empty string or list of non-empty strings", "invalid_request"
        )
    if len(texts) > MAX_EMBED_INPUTS:
        raise ApiError(400, f"at most {MAX_EMBED_INPUTS} inputs per request", "invalid_request")
    if body.model not in (None, "", "default", state.embedder.name):
        raise ApiError(
            404,
            f"embedding model {body.model!r} is not loaded; use {state.embedder.name!r}",
            "model_not_found",
        )
    vectors = await run_in_threadpool(state.embedder.embed, texts)
    tokens = sum(state.embedder.count_tokens(t) for t in texts)
    return {
        "object": "list",
        "model": state.embedder.name,
        "data": [
            {"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)
        ],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
