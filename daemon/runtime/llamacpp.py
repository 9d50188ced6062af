"""The default backend: a GGUF model run in-process by llama-cpp-python."""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Iterator
from pathlib import Path

from cove.daemon.runtime.base import (
    Chunk,
    GenerationParams,
    Message,
    ModelLoadError,
    ResponseFormatError,
    check_fits,
)


@functools.lru_cache(maxsize=32)
def _grammar(schema_json: str):
    """The llama.cpp grammar admitting only JSON that matches the schema ("{}": any object)."""
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar, json_schema_to_gbnf

    schema = json.loads(schema_json)
    try:
        gbnf = json_schema_to_gbnf(schema_json) if schema else JSON_GBNF
        return LlamaGrammar.from_string(gbnf, verbose=False)
    except Exception as exc:  # the converter raises bare exceptions of several kinds
        raise ResponseFormatError(
            f"response_format: llama.cpp cannot enforce this JSON schema: {exc}"
        ) from exc


def grammar_for(params: GenerationParams):
    """The grammar `params` asks for, or None for free text."""
    if params.json_schema is None:
        return None
    return _grammar(json.dumps(params.json_schema, sort_keys=True))


class LlamaCppBackend:
    """One loaded GGUF (optionally with a LoRA adapter), prompted through its chat template.

    Cove formats and tokenizes the prompt itself so it can count tokens exactly and refuse
    a prompt that does not fit, instead of letting llama.cpp fail mid-request.
    """

    backend = "llama.cpp"

    def __init__(
        self,
        model_path: Path,
        model_id: str,
        context: int,
        threads: int,
        adapter: Path | None = None,
        seed: int = 0,
    ) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if not model_path.is_file():
            raise ModelLoadError(f"model file not found: {model_path}")
        if adapter is not None and not adapter.is_file():
            raise ModelLoadError(f"adapter file not found: {adapter}")
        try:
            self._llm = Llama(
                model_path=str(model_path),
                n_ctx=context,
                n_threads=threads,
                n_threads_batch=threads,
                seed=seed,
                verbose=False,
            )
        except Exception as exc:  # llama.cpp reports a bad file as a bare ValueError
            what = f"adapter {adapter} over {model_path}" if adapter else f"model {model_path}"
            raise ModelLoadError(f"llama.cpp could not load {what}: {exc}") from exc
        template = self._llm.metadata.get("tokenizer.chat_template")
        if not template:
            self._llm.close()
            raise ModelLoadError(
                f"{model_path.name} has no chat template: it is a base model, not a chat model"
            )
        vocab = self._llm._model
        self._formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=vocab.token_get_text(vocab.token_eos()),
            bos_token=vocab.token_get_text(vocab.token_bos()),
            stop_token_ids=[vocab.token_eos()],
        )
        self.model_path = model_path
        self.model_id = model_id
        self.context_length = self._llm.n_ctx()
        self.adapter: str | None = None
        self.threads = threads
        self._adapter_handle = None
        if adapter is not None:
            try:
                self.set_adapter(adapter)
            except ModelLoadError:
                self._llm.close()
                raise

    def set_adapter(self, adapter: Path | None) -> None:
        """Apply a LoRA adapter (GGUF) to the loaded model, or remove it with None.

        Adapters are attached here rather than through `Llama(lora_path=...)`: that path in
        llama-cpp-python 0.3.36 misses a failed load (it checks a NULL pointer with
        `is None`) and would run with a broken adapter. The previous adapter stays
        active if the new one fails.
        """
        import ctypes

        import llama_cpp

        ctx = self._llm._ctx.ctx
        if adapter is None:
            llama_cpp.llama_set_adapters_lora(ctx, None, 0, None)
            self._free_adapter()
            self.adapter = None
            self._llm.reset()  # the cached prompt was computed with the old weights
            return
        if not adapter.is_file():
            raise ModelLoadError(f"adapter file not found: {adapter}")
        handle = llama_cpp.llama_adapter_lora_init(self._llm._model.model, str(adapter).encode())
        if not handle:
            raise ModelLoadError(
                f"llama.cpp could not load adapter {adapter} for {self.model_path.name}: "
                "not a LoRA GGUF for this base model (see the log for details)"
            )
        adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(handle)
        scales = (ctypes.c_float * 1)(1.0)
        if llama_cpp.llama_set_adapters_lora(ctx, adapters, 1, scales) != 0:
            llama_cpp.llama_adapter_lora_free(handle)
            raise ModelLoadError(f"llama.cpp refused to apply adapter {adapter}")
        self._free_adapter()
        self._adapter_handle = handle
        self.adapter = str(adapter)
        self._llm.reset()

    def _free_adapter(self) -> None:
        if self._adapter_handle is not None:
            import llama_cpp

            llama_cpp.llama_adapter_lora_free(self._adapter_handle)
            self._adapter_handle = None

    def _prompt(self, messages: list[Message]) -> tuple[list[int], list[str]]:
        formatted = self._formatter(messages=messages)
        tokens = self._llm.tokenize(formatted.prompt.encode("utf-8"), add_bos=True, special=True)
        stop = formatted.stop if isinstance(formatted.stop, list) else [formatted.stop]
        return tokens, [s for s in stop if s]

    def count_prompt_tokens(self, messages: list[Message]) -> int:
        return len(self._prompt(messages)[0])

    def check_params(self, params: GenerationParams) -> None:
        grammar_for(params)

    def stream_chat(
        self, messages: list[Message], params: GenerationParams, cancel: threading.Event
    ) -> Iterator[Chunk]:
        tokens, stop = self._prompt(messages)
        budget = check_fits(len(tokens), self.context_length, params.max_tokens)
        grammar = grammar_for(params)
        if params.seed is not None:
            # Reusing the cached prompt prefix changes how the prompt is batched, and with it
            # the logits in the last bits: a seeded request is evaluated from scratch so the
            # same request gives the same answer.
            self._llm.reset()
        stream = self._llm.create_completion(
            prompt=tokens,
            max_tokens=budget,
            temperature=params.temperature,
            top_p=params.top_p,
            seed=params.seed,
            stop=stop + params.stop,
            repeat_penalty=params.repeat_penalty,
            grammar=grammar,
            stream=True,
        )
        produced: list[str] = []
        finish = "length"
        try:
            for part in stream:
                if cancel.is_set():
                    finish = "cancelled"
                    break
                choice = part["choices"][0]
                if choice["text"]:
                    produced.append(choice["text"])
                    yield Chunk(text=choice["text"])
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
        finally:
            stream.close()  # stops llama.cpp from decoding further tokens
        answer = "".join(produced).encode("utf-8")
        completion_tokens = len(self._llm.tokenize(answer, add_bos=False)) if answer else 0
        yield Chunk(
            text="",
            finish_reason=finish,
            prompt_tokens=len(tokens),
            completion_tokens=completion_tokens,
        )

    def describe(self) -> dict:
        return {
            "id": self.model_id,
            "backend": self.backend,
            "path": str(self.model_path),
            "context": self.context_length,
            "threads": self.threads,
            "adapter": self.adapter,
        }

    def close(self) -> None:
        self._free_adapter()
        self._llm.close()
