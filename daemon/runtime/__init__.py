"""The model runtime: one loaded chat backend, used by one request at a time.

Backends are blocking; `Runtime` runs them on worker threads, serializes them with a lock,
streams their chunks into asyncio, and cancels generation when the consumer goes away.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from cove.daemon.runtime.base import (
    BackendUnavailableError,
    ChatBackend,
    Chunk,
    ContextOverflowError,
    GenerationParams,
    Message,
    ModelLoadError,
    ResponseFormatError,
    RuntimeErrorBase,
    check_fits,
)

__all__ = [
    "BackendUnavailableError",
    "ChatBackend",
    "Chunk",
    "ContextOverflowError",
    "GenerationParams",
    "Message",
    "ModelLoadError",
    "Runtime",
    "ResponseFormatError",
    "RuntimeErrorBase",
]

_DONE = object()
# Tokens generated within this many seconds travel to the client together.
FLUSH_S = 0.02


class Runtime:
    """Owns the loaded backend and serializes access to it.

    `max_tokens` caps every answer ([model] max_tokens) and `time_limit_s` is how long one
    answer may hold the model ([model] request_timeout_s; waiting for it does not count):
    no single client keeps the others waiting for long.
    """

    def __init__(
        self,
        backend: ChatBackend,
        max_tokens: int | None = None,
        time_limit_s: float | None = None,
    ) -> None:
        self.backend = backend
        self.max_tokens = max_tokens
        self.time_limit_s = time_limit_s
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="cove-gen")
        self.busy = False
        self.waiting = 0
        self.generations_total = 0
        self.cancelled_total = 0
        self.timed_out_total = 0
        self.last_generation_ended = 0.0

    def fit(
        self, messages: list[Message], params: GenerationParams
    ) -> tuple[int, GenerationParams]:
        """Prompt tokens, and `params` with the answer's budget: what was asked, at most the
        cap and what the context leaves. Raises ContextOverflowError (ResponseFormatError)."""
        self.backend.check_params(params)
        prompt_tokens = self.backend.count_prompt_tokens(messages)
        budget = check_fits(
            prompt_tokens, self.backend.context_length, params.max_tokens, self.max_tokens
        )
        return prompt_tokens, replace(params, max_tokens=budget)

    def check_prompt(self, messages: list[Message], params: GenerationParams) -> int:
        """Prompt tokens, or ContextOverflowError (ResponseFormatError) before any streaming
        starts."""
        return self.fit(messages, params)[0]

    async def stream(
        self, messages: list[Message], params: GenerationParams
    ) -> AsyncIterator[Chunk]:
        """Yield the answer's chunks; closing the iterator early cancels generation."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        cancel = threading.Event()
        self.waiting += 1
        loop.run_in_executor(self._executor, self._generate, messages, params, cancel, loop, queue)
        finished = False
        try:
            while True:
                item = await queue.get()
                if item is _DONE:
                    finished = True
                    return
                if isinstance(item, BaseException):
                    finished = True
                    raise item
                yield item
        finally:
            if not finished:
                cancel.set()

    def _generate(
        self,
        messages: list[Message],
        params: GenerationParams,
        cancel: threading.Event,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue,
    ) -> None:
        put: Callable[[object], None] = lambda item: loop.call_soon_threadsafe(  # noqa: E731
            queue.put_nowait, item
        )
        outcome: object = _DONE
        with self._lock:
            self.waiting -= 1
            if cancel.is_set():  # the client left while waiting for its turn
                self.cancelled_total += 1
                put(_DONE)
                return
            self.busy = True
            finish = None
            try:
                # Fitted under the lock: a model swapped meanwhile has its own context.
                params = self.fit(messages, params)[1]
                chunks = self.backend.stream_chat(messages, params, cancel)
                finish = self._relay(chunks, put, cancel, self._deadline())
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting request
                outcome = exc
            finally:
                # Counters change before the consumer hears the end, so it sees them updated.
                self.generations_total += 1
                self.timed_out_total += finish == "timeout"
                self.cancelled_total += cancel.is_set() and finish != "timeout"
                self.busy = False
                self.last_generation_ended = time.monotonic()
        put(outcome)

    def _deadline(self) -> float | None:
        return time.monotonic() + self.time_limit_s if self.time_limit_s else None

    @staticmethod
    def _relay(
        chunks: Iterator[Chunk],
        put: Callable[[object], None],
        cancel: threading.Event,
        deadline: float | None,
    ) -> str | None:
        """Hand chunks to the event loop, the first at once, then at most every FLUSH_S;
        past `deadline`, stop the backend and report the end as "timeout". Returns the
        finish reason.

        Each hand-off wakes the event loop, which then competes with llama.cpp's threads for
        the cores; merging the tokens of a few milliseconds keeps that cost off the
        generation speed without a visible delay.
        """
        pending: list[str] = []
        last_flush = 0.0
        expired = False
        for chunk in chunks:
            if chunk.finish_reason:
                if expired and chunk.finish_reason == "cancelled":
                    chunk.finish_reason = "timeout"
                if pending:
                    put(Chunk(text="".join(pending)))
                put(chunk)
                return chunk.finish_reason
            # Backends check `cancel` at every token, so the answer stops one token later.
            if deadline is not None and not cancel.is_set() and time.monotonic() >= deadline:
                expired = True
                cancel.set()
            pending.append(chunk.text)
            now = time.monotonic()
            if now - last_flush >= FLUSH_S:
                put(Chunk(text="".join(pending)))
                pending.clear()
                last_flush = now
        if pending:
            put(Chunk(text="".join(pending)))
        return None

    def swap(self, load: Callable[[], ChatBackend]) -> ChatBackend:
        """Replace the backend once no answer is running; on failure keep the current one."""
        with self._lock:
            new = load()
            old, self.backend = self.backend, new
        old.close()
        return new

    def stats(self) -> dict:
        return {
            "backend": self.backend.backend,
            "context": self.backend.context_length,
            "busy": self.busy,
            "waiting": self.waiting,
            "generations_total": self.generations_total,
            "cancelled_total": self.cancelled_total,
            "timed_out_total": self.timed_out_total,
        }

    def close(self) -> None:
        with self._lock:
            self.backend.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
