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
    """Owns the loaded backend and serializes access to it."""

    def __init__(self, backend: ChatBackend) -> None:
        self.backend = backend
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="cove-gen")
        self.busy = False
        self.waiting = 0
        self.generations_total = 0
        self.cancelled_total = 0
        self.last_generation_ended = 0.0

    def check_prompt(self, messages: list[Message], params: GenerationParams) -> int:
        """Prompt tokens, or ContextOverflowError (ResponseFormatError) before any streaming
        starts."""
        self.backend.check_params(params)
        prompt_tokens = self.backend.count_prompt_tokens(messages)
        check_fits(prompt_tokens, self.backend.context_length, params.max_tokens)
        return prompt_tokens

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
            try:
                self._relay(self.backend.stream_chat(messages, params, cancel), put)
            except BaseException as exc:  # noqa: BLE001 - handed to the awaiting request
                outcome = exc
            finally:
                # Counters change before the consumer hears the end, so it sees them updated.
                self.generations_total += 1
                self.cancelled_total += cancel.is_set()
                self.busy = False
                self.last_generation_ended = time.monotonic()
        put(outcome)

    @staticmethod
    def _relay(chunks: Iterator[Chunk], put: Callable[[object], None]) -> None:
        """Hand chunks to the event loop, the first at once, then at most every FLUSH_S.

        Each hand-off wakes the event loop, which then competes with llama.cpp's threads for
        the cores; merging the tokens of a few milliseconds keeps that cost off the
        generation speed without a visible delay.
        """
        pending: list[str] = []
        last_flush = 0.0
        for chunk in chunks:
            if chunk.finish_reason:
                if pending:
                    put(Chunk(text="".join(pending)))
                put(chunk)
                return
            pending.append(chunk.text)
            now = time.monotonic()
            if now - last_flush >= FLUSH_S:
                put(Chunk(text="".join(pending)))
                pending.clear()
                last_flush = now
        if pending:
            put(Chunk(text="".join(pending)))

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
        }

    def close(self) -> None:
        with self._lock:
            self.backend.close()
        self._executor.shutdown(wait=False, cancel_futures=True)
