"""The ONNX embedding backends' encoder: a sentence-transformers model run by onnxruntime
from an exported graph, with the model's own pooling done in numpy.

The graph is made and checked by `onnx_export` (`load_onnx_embedder` there exports on first
use and refuses a graph that lost too much); this module only encodes.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from cove.index.embedding_model import model_name, token_counter


class OnnxEmbedder:
    """A sentence-transformers model run as an ONNX graph; the interface of `Embedder`.

    `model_path` gives the tokenizer and the pooling; `onnx_path` the graph; `name` the model
    identity (default: the model's own). `batch_size` is kept for the interface (callers hand
    over texts in batches of it); see `embed`.
    """

    def __init__(
        self,
        model_path: Path,
        onnx_path: Path,
        name: str | None = None,
        batch_size: int = 32,
        threads: int = 0,
    ) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from transformers import AutoTokenizer

        self.path = Path(model_path)
        self.onnx_path = Path(onnx_path)
        self.name = name or model_name(self.path)
        self.batch_size = batch_size
        self._tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        self._count = token_counter(self._tokenizer)
        self._pooling = pooling_mode(self.path)
        self.max_seq_length: int = max_seq_length(self.path, self._tokenizer.model_max_length)
        self._session = _session(self.onnx_path, threads)
        self._inputs = [i.name for i in self._session.get_inputs()]
        # One encode at a time: a session already spreads one text over every core.
        self._lock = threading.Lock()
        self.dimension: int = len(self.embed(["dimension"])[0])

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Unit-length embeddings, one per text, in order.

        Each text runs alone, so no work goes into padding: 32 chunks/s against 25 in batches
        of 32 (int8, on the 2-core test machine). In the int8 graph it also keeps vectors
        independent of their batch-mates: dynamic quantization scales a whole activation
        tensor at once, and a text embedded in a batch of 32 moved to cosine 0.992 of itself
        embedded alone (as a query is at search time).
        """
        if not texts:
            return []
        encoded = self._tokenizer(texts, truncation=True, max_length=self.max_seq_length)
        with self._lock:
            vectors = [
                self._encode_one({name: encoded[name][i] for name in self._inputs})
                for i in range(len(texts))
            ]
        return np.concatenate(vectors).tolist()

    def embed_query(self, texts: list[str]) -> list[list[float]]:
        """Search queries: embedded like any text (the model takes no prefix)."""
        return self.embed(texts)

    def count_tokens(self, text: str) -> int:
        """Word pieces the model sees for `text`, special tokens included."""
        return self._count(text)

    def _encode_one(self, features: dict[str, list[int]]) -> np.ndarray:
        """A (1, dimension) unit vector for one tokenized text."""
        feed = {name: np.asarray([ids], dtype=np.int64) for name, ids in features.items()}
        tokens = self._session.run(None, feed)[0]
        no_padding = np.ones(tokens.shape[:2], dtype=np.int64)
        return normalize(pool(tokens, no_padding, self._pooling))


def _session(onnx_path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    # 0 = every core, like torch; onnxruntime's own default counts physical cores only.
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])


def pooling_mode(model_path: Path) -> str:
    """The pooling of a sentence-transformers directory: "mean", "cls", "max" or
    "mean_sqrt_len_tokens". Raises ValueError for modules this backend cannot run."""
    modules_file = Path(model_path) / "modules.json"
    if not modules_file.is_file():
        return "mean"  # a bare transformers model: sentence-transformers adds mean pooling
    modules = json.loads(modules_file.read_text(encoding="utf-8"))
    mode = "mean"
    for module in modules:
        kind = module["type"].rsplit(".", 1)[-1]
        if kind == "Pooling":
            config = Path(model_path) / module["path"] / "config.json"
            mode = _pooling_from_config(json.loads(config.read_text(encoding="utf-8")))
        elif kind not in {"Transformer", "Normalize"}:
            raise ValueError(f"{model_path}: module {kind} is not supported by the ONNX backend")
    return mode


_LEGACY_POOLING = {
    "pooling_mode_cls_token": "cls",
    "pooling_mode_max_tokens": "max",
    "pooling_mode_mean_tokens": "mean",
    "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
    "pooling_mode_weightedmean_tokens": "weightedmean",
    "pooling_mode_lasttoken": "lasttoken",
}
_POOLINGS = {"mean", "cls", "max", "mean_sqrt_len_tokens"}


def _pooling_from_config(config: dict[str, Any]) -> str:
    modes = config.get("pooling_mode") or [m for k, m in _LEGACY_POOLING.items() if config.get(k)]
    modes = [modes] if isinstance(modes, str) else list(modes)
    if len(modes) != 1 or modes[0] not in _POOLINGS:
        raise ValueError(f"pooling {modes} is not supported by the ONNX backend")
    return modes[0]


def max_seq_length(model_path: Path, tokenizer_limit: int) -> int:
    """Tokens per text before truncation, as sentence-transformers decides it."""
    config_file = Path(model_path) / "sentence_bert_config.json"
    if config_file.is_file():
        value = json.loads(config_file.read_text(encoding="utf-8")).get("max_seq_length")
        if value:
            return int(value)
    model_config = json.loads((Path(model_path) / "config.json").read_text(encoding="utf-8"))
    return min(tokenizer_limit, int(model_config.get("max_position_embeddings", tokenizer_limit)))


def pool(tokens: np.ndarray, mask: np.ndarray, mode: str) -> np.ndarray:
    """Sentence vectors from token vectors (batch, sequence, hidden), padding excluded."""
    if mode == "cls":
        return tokens[:, 0]
    weights = mask[..., None].astype(tokens.dtype)
    if mode == "max":
        return np.where(weights > 0, tokens, -1e9).max(axis=1)
    total = (tokens * weights).sum(axis=1)
    count = np.maximum(weights.sum(axis=1), 1e-9)
    return total / (np.sqrt(count) if mode == "mean_sqrt_len_tokens" else count)


def normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
