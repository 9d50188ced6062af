"""The interface every chat backend implements, and the errors they raise."""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

Message = dict[str, str]


@dataclass(frozen=True)
class GenerationParams:
    """Sampling settings for one answer. `max_tokens=None` means: what the context leaves."""

    max_tokens: int | None = None
    temperature: float = 0.7
    top_p: float = 0.95
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    # Constrain the answer to JSON: a JSON schema it must match, or {} for any JSON object.
    json_schema: dict | None = None
    # Penalty on tokens already in the context (llama.cpp, Ollama); 1.0 = none.
    repeat_penalty: float = 1.0


@dataclass
class Chunk:
    """A piece of streamed output; the last one has `finish_reason` and the token counts.

    Besides OpenAI's "stop" and "length": "cancelled" (the consumer left) and "timeout" (the
    Runtime's time limit stopped it; what was generated is kept).
    """

    text: str
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class RuntimeErrorBase(RuntimeError):
    """Base of the errors a backend reports to API clients."""

    code = "runtime_error"
    status = 500


class ModelLoadError(RuntimeErrorBase):
    code = "model_load_failed"
    status = 400


class BackendUnavailableError(RuntimeErrorBase):
    code = "backend_unavailable"
    status = 503


class ResponseFormatError(RuntimeErrorBase):
    """A requested output format (JSON schema) the backend cannot enforce."""

    code = "invalid_response_format"
    status = 400


class ContextOverflowError(RuntimeErrorBase):
    """The prompt (plus the room asked for the answer) does not fit the model's context."""

    code = "context_length_exceeded"
    status = 400

    def __init__(self, prompt_tokens: int, context: int, max_tokens: int | None) -> None:
        self.prompt_tokens = prompt_tokens
        self.context = context
        self.max_tokens = max_tokens
        room = f" plus max_tokens={max_tokens}" if max_tokens else ""
        super().__init__(
            f"the prompt is {prompt_tokens} tokens{room}, but the model's context is "
            f"{context} tokens: shorten the conversation or lower max_tokens"
        )


class ChatBackend(Protocol):
    """A loaded chat model. Calls are blocking; the Runtime serializes and streams them."""

    model_id: str
    backend: str
    context_length: int
    adapter: str | None

    def count_prompt_tokens(self, messages: list[Message]) -> int:
        """Tokens the formatted prompt takes, as the backend will see it."""
        ...

    def check_params(self, params: GenerationParams) -> None:
        """Raise ResponseFormatError for settings this backend cannot honour."""
        ...

    def stream_chat(
        self, messages: list[Message], params: GenerationParams, cancel: threading.Event
    ) -> Iterator[Chunk]:
        """Generate an answer, stopping early once `cancel` is set."""
        ...

    def describe(self) -> dict:
        """Facts shown by `cove status` and `cove models list`."""
        ...

    def close(self) -> None: ...


def check_fits(
    prompt_tokens: int, context: int, max_tokens: int | None, cap: int | None = None
) -> int:
    """Return the answer budget; raise ContextOverflowError when the prompt leaves none.

    `cap` is the longest answer the daemon allows: a request for more gets the cap (OpenAI
    clients ask for large budgets routinely), and one naming none gets what the context
    leaves, at most the cap.
    """
    if cap is not None and max_tokens is not None:
        max_tokens = min(max_tokens, cap)
    room = context - prompt_tokens
    if room < 1 or (max_tokens is not None and max_tokens > room):
        raise ContextOverflowError(prompt_tokens, context, max_tokens)
    if max_tokens is not None:
        return max_tokens
    return room if cap is None else min(room, cap)


def estimate_tokens(messages: list[Message]) -> int:
    """A deliberately high token estimate for backends whose tokenizer Cove cannot run.

    Real tokenizers average about 4 bytes a token on English; counting 3 errs towards
    refusing a prompt rather than letting the server truncate it silently.
    """
    per_message = 8  # role markers and separators of common chat templates
    return sum(math.ceil(len(m.get("content", "").encode()) / 3) + per_message for m in messages)
