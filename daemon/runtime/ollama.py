"""The optional backend: a model served by Ollama, selected as `ollama:<name>`."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from cove.daemon.runtime.base import (
    BackendUnavailableError,
    Chunk,
    GenerationParams,
    Message,
    ModelLoadError,
    check_fits,
    estimate_tokens,
)

PREFIX = "ollama:"


class OllamaBackend:
    """Chat through an Ollama server with the official `ollama` client.

    Ollama truncates an over-long prompt silently, so Cove sends `num_ctx` itself and
    refuses, on its side, a prompt its (conservative) estimate says will not fit.
    """

    backend = "ollama"

    def __init__(self, name: str, host: str, num_ctx: int, timeout: float) -> None:
        import ollama

        self._client = ollama.Client(host=host, timeout=timeout)
        self.name = name
        self.model_id = PREFIX + name
        self.host = host
        self.adapter = None
        self.context_length = min(num_ctx, self._model_context(name) or num_ctx)

    def _model_context(self, name: str) -> int | None:
        import httpx
        import ollama

        try:
            info = self._client.show(name)
        except ollama.ResponseError as exc:
            raise ModelLoadError(
                f"Ollama at {self.host} has no model {name!r} ({exc.error}): "
                f"run `ollama pull {name}` first"
            ) from exc
        except (httpx.HTTPError, ConnectionError) as exc:
            raise BackendUnavailableError(
                f"cannot reach Ollama at {self.host}: {exc}. Is `ollama serve` running?"
            ) from exc
        model_info = getattr(info, "modelinfo", None) or {}
        for key, value in model_info.items():
            if key.endswith(".context_length") and isinstance(value, int):
                return value
        return None

    def count_prompt_tokens(self, messages: list[Message]) -> int:
        return estimate_tokens(messages)

    def check_params(self, params: GenerationParams) -> None:
        """Ollama validates a JSON schema itself and reports it as an error."""

    def stream_chat(
        self, messages: list[Message], params: GenerationParams, cancel: threading.Event
    ) -> Iterator[Chunk]:
        import httpx
        import ollama

        budget = check_fits(estimate_tokens(messages), self.context_length, params.max_tokens)
        options = {
            "num_ctx": self.context_length,
            "num_predict": budget,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        if params.seed is not None:
            options["seed"] = params.seed
        if params.repeat_penalty != 1.0:
            options["repeat_penalty"] = params.repeat_penalty
        if params.stop:
            options["stop"] = params.stop
        try:
            stream = self._client.chat(
                model=self.name,
                messages=messages,
                stream=True,
                options=options,
                format=_format(params),
            )
            final = Chunk(text="", finish_reason="stop")
            try:
                for part in stream:
                    if cancel.is_set():
                        final.finish_reason = "cancelled"
                        break
                    text = part.message.content or ""
                    if text:
                        yield Chunk(text=text)
                    if part.done:
                        final = Chunk(
                            text="",
                            finish_reason=part.done_reason or "stop",
                            prompt_tokens=part.prompt_eval_count or 0,
                            completion_tokens=part.eval_count or 0,
                        )
                        break
            finally:
                stream.close()  # closes the HTTP response, so Ollama stops generating
        except ollama.ResponseError as exc:
            raise BackendUnavailableError(f"Ollama refused the request: {exc.error}") from exc
        except (httpx.HTTPError, ConnectionError) as exc:
            raise BackendUnavailableError(f"lost Ollama at {self.host}: {exc}") from exc
        yield final

    def describe(self) -> dict:
        return {
            "id": self.model_id,
            "backend": self.backend,
            "host": self.host,
            "context": self.context_length,
            "adapter": None,
        }

    def close(self) -> None:
        pass


def list_ollama_models(host: str, timeout: float = 2.0) -> list[str]:
    """Names Ollama serves, or [] when no Ollama server answers."""
    import httpx
    import ollama

    try:
        response = ollama.Client(host=host, timeout=timeout).list()
    except (httpx.HTTPError, ConnectionError, ollama.ResponseError):
        return []
    return [m.model for m in response.models if m.model]


def _format(params: GenerationParams) -> dict | str | None:
    """Ollama's `format`: a JSON schema, "json" for any JSON, or None for free text."""
    if params.json_schema is None:
        return None
    return params.json_schema or "json"
