"""The OpenAI-compatible surface: /v1/models, /v1/chat/completions, /v1/embeddings."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field, model_validator

from cove.daemon.answer.pipeline import AskRequest
from cove.daemon.api.disconnect import unless_disconnected
from cove.daemon.api.errors import ApiError, error_body, responses
from cove.daemon.api.sse import sse_content, sse_data, sse_response
from cove.daemon.api.state import CoveState, DaemonState
from cove.daemon.runtime import Chunk, GenerationParams, Message, RuntimeErrorBase

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


class JsonSchemaFormat(BaseModel):
    name: str = "answer"
    description: str | None = None
    schema_: dict = Field(default_factory=dict, alias="schema")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    """OpenAI's `response_format`: free text, any JSON object, or JSON matching a schema
    (enforced by a llama.cpp grammar, or Ollama's `format`)."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("response_format of type 'json_schema' needs a 'json_schema'")
        return self

    def schema(self) -> dict | None:
        """The JSON schema to enforce ({} for any JSON object), or None for free text."""
        if self.type == "json_schema" and self.json_schema is not None:
            return self.json_schema.schema_
        return {} if self.type == "json_object" else None


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
    response_format: ResponseFormat | None = None

    def params(self) -> GenerationParams:
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return GenerationParams(
            max_tokens=self.max_completion_tokens or self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
            stop=stop,
            json_schema=self.response_format.schema() if self.response_format else None,
        )


class EmbeddingRequest(BaseModel):
    input: str | list[str]
    model: str | None = None
    encoding_format: Literal["float"] = "float"


def _model_entry(model_id: str, owner: str) -> dict:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": owner}


@router.get(
    "/models", summary="Chat models first (the Cove assistant, the raw model), then embeddings"
)
async def list_models(state: CoveState) -> dict:
    return {
        "object": "list",
        "data": [
            _model_entry(PIPELINE_MODEL, "cove"),
            _model_entry(state.runtime.backend.model_id, state.runtime.backend.backend),
            _model_entry(state.embedder.name, "sentence-transformers"),
        ],
    }


def _pick_model(state: DaemonState, body: ChatCompletionRequest) -> str:
    raw_id = state.runtime.backend.model_id
    if body.model in (None, "", raw_id):
        return raw_id
    if body.model == PIPELINE_MODEL:
        return PIPELINE_MODEL
    raise ApiError(
        404,
        f"model {body.model!r} is not loaded; use {PIPELINE_MODEL!r} or {raw_id!r}",
        "model_not_found",
    )


def _pipeline_request(body: ChatCompletionRequest) -> AskRequest:
    """The last user message is the question; earlier turns are its history."""
    messages = [m.as_message() for m in body.messages]
    system = next((m["content"] for m in messages if m["role"] == "system"), None)
    turns = [m for m in messages if m["role"] != "system"]
    if not turns or turns[-1]["role"] != "user" or not turns[-1]["content"].strip():
        raise ApiError(
            400, f"model {PIPELINE_MODEL!r} needs a last message from the user", "invalid_request"
        )
    return AskRequest(
        question=turns[-1]["content"],
        params=body.params(),
        history=turns[:-1],
        system=system,
    )


@router.post(
    "/chat/completions",
    summary="Chat completion, streamed over SSE or not",
    description=f"Model {PIPELINE_MODEL!r} runs Cove's grounded pipeline (retrieval, numbered "
    "sources, citations; logged as a session) and adds `sources` to the response, or a last "
    "`cove.sources` chunk when streamed. The raw model id is plain chat. `max_tokens` above "
    "[model] max_tokens gets that cap; an answer stopped by [model] request_timeout_s keeps "
    'its text and ends with `finish_reason: "length"` and `"timed_out": true`.',
    responses=sse_content("The completion, or with `stream: true` its chunks as SSE")
    | responses(400, 404, 503, notes={404: "No such model loaded"}),
)
async def chat_completions(state: CoveState, body: ChatCompletionRequest, request: Request):
    model = _pick_model(state, body)
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    if model == PIPELINE_MODEL:
        events = state.get_assistant().ask(_pipeline_request(body))
        if body.stream:
            return sse_response(_stream_pipeline(events, model, completion_id, created))
        answer = _pipeline_response(events, model, completion_id, created)
        return await unless_disconnected(request, answer)
    messages = [m.as_message() for m in body.messages]
    params = body.params()
    state.runtime.check_prompt(messages, params)  # a 400 before any byte is streamed
    if body.stream:
        return sse_response(_stream_chunks(state, model, messages, params, completion_id, created))
    text, final = await unless_disconnected(request, _collect(state, messages, params))
    return _completion(
        model,
        completion_id,
        created,
        text,
        final.finish_reason if final else "stop",
        _usage(final.prompt_tokens if final else 0, final.completion_tokens if final else 0),
    )


async def _collect(
    state: DaemonState, messages: list[Message], params: GenerationParams
) -> tuple[str, Chunk | None]:
    """The whole answer and its finishing chunk."""
    parts, final = [], None
    async for chunk in state.runtime.stream(messages, params):
        if chunk.finish_reason:
            final = chunk
        else:
            parts.append(chunk.text)
    return "".join(parts), final


def _finish(reason: str) -> tuple[str, dict]:
    """OpenAI's finish_reason for the runtime's, and what it adds to the response: an answer
    the time limit stopped ends as "length" (cut short, which clients understand) and says
    `"timed_out": true`."""
    if reason == "timeout":
        return "length", {"timed_out": True}
    return reason, {}


def _completion(
    model: str, completion_id: str, created: int, content: str, finish: str, usage: dict
) -> dict:
    finish, marker = _finish(finish)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish,
            }
        ],
        "usage": usage,
        **marker,
    }


async def _pipeline_response(
    events: AsyncIterator[dict], model: str, completion_id: str, created: int
) -> dict:
    result: dict = {}
    async for event in events:
        if event["type"] == "done":
            result = event["result"]
    timings = result["timings"]
    response = _completion(
        model,
        completion_id,
        created,
        result["answer"],
        timings.get("finish_reason", "stop"),
        _usage(timings.get("prompt_tokens", 0), timings.get("completion_tokens", 0)),
    )
    response["sources"] = result["sources"]
    response["cove"] = {
        k: result[k]
        for k in (
            "grounded",
            "session_id",
            "message_id",
            "adapter",
            "timings",
            "claims",
            "replaced",
            "learned",
            "learned_from",
        )
        if k in result
    }
    return response


def _usage(prompt: int, completion: int) -> dict:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _chunk(model: str, completion_id: str, created: int, delta: dict, finish=None, **extra) -> str:
    finish, marker = _finish(finish) if finish else (None, {})
    return sse_data(
        {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
            **marker,
        }
    )


async def _stream_chunks(
    state: DaemonState,
    model: str,
    messages: list[Message],
    params: GenerationParams,
    completion_id: str,
    created: int,
) -> AsyncIterator[str]:
    yield _chunk(model, completion_id, created, {"role": "assistant", "content": ""})
    try:
        async for part in state.runtime.stream(messages, params):
            if part.finish_reason:
                usage = _usage(part.prompt_tokens, part.completion_tokens)
                yield _chunk(model, completion_id, created, {}, part.finish_reason, usage=usage)
            elif part.text:
                yield _chunk(model, completion_id, created, {"content": part.text})
    except RuntimeErrorBase as exc:
        yield sse_data(error_body(str(exc), exc.code))
    yield sse_data("[DONE]")


async def _stream_pipeline(
    events: AsyncIterator[dict], model: str, completion_id: str, created: int
) -> AsyncIterator[str]:
    """Answer chunks, a finishing chunk, then the sources as a `cove.sources` chunk."""
    yield _chunk(model, completion_id, created, {"role": "assistant", "content": ""})
    try:
        async for event in events:
            if event["type"] in ("session", "replace"):
                continue  # the final answer travels in `done` (the non-streamed response)
            if event["type"] == "token":
                yield _chunk(model, completion_id, created, {"content": event["text"]})
                continue
            result = event["result"]
            timings = result["timings"]
            usage = _usage(timings.get("prompt_tokens", 0), timings.get("completion_tokens", 0))
            finish = timings.get("finish_reason", "stop")
            yield _chunk(model, completion_id, created, {}, finish, usage=usage)
            yield sse_data(
                {
                    "id": completion_id,
                    "object": "cove.sources",
                    "sources": result["sources"],
                    # The final answer: with its citations from claim matching, or a quote
                    # that replaced an unsupported answer; and its claims.
                    "answer": result["answer"],
                    "claims": result["claims"],
                    "grounded": result["grounded"],
                    "session_id": result["session_id"],
                    "message_id": result["message_id"],
                }
            )
    except RuntimeErrorBase as exc:
        yield sse_data(error_body(str(exc), exc.code))
    yield sse_data("[DONE]")


@router.post(
    "/embeddings",
    summary="Embed text with the daemon's sentence-transformers model",
    responses=responses(400, 404, notes={404: "No such embedding model loaded"}),
)
async def embeddings(state: CoveState, body: EmbeddingRequest, request: Request) -> dict:
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
