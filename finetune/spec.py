"""The job spec the daemon hands the trainer subprocess, as one JSON file."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

BACKENDS = ("auto", "peft", "unsloth")
DEVICES = ("auto", "cpu", "cuda")


class SpecError(ValueError):
    """A job spec with a missing or wrong field."""


@dataclass
class TrainSpec:
    """What to train, from what, into where, and for how long.

    `target_modules=None` means every linear projection of the model except the
    embeddings and lm_head (llama.cpp's converter refuses those in an adapter). No
    rsLoRA: llama.cpp scales an adapter by alpha/r. `max_seconds` is the time window,
    counted from the start of the subprocess: training stops before it ends and saves
    what it has. `nice` is added to the trainer's CPU niceness so chat stays responsive.
    `backend`: "auto" picks Unsloth on CUDA when installed, else peft. `device` and
    `load_in_4bit` (bitsandbytes, CUDA only) apply to the peft backend; Unsloth always
    trains a 4-bit base on CUDA.
    `eval_path` (held-out rows) gives the held-out loss of the base and the adapter.

    `steps` is the step budget (the daemon derives it from the data: epochs times the
    steps of one epoch). After each epoch (`cove.finetune.epochs`) the trainer measures
    how many facts of the train rows it learned and, once all are, the drift on
    `drift_rows` rows of `general_path` (the rendered general set, `cove.finetune.drift`);
    it keeps the best weights and stops `patience` epochs after the best once every fact
    is learned (0: run every step). The adapter saved is the best checkpoint; the general
    set (a spread sample of `general_rows` of its rows; 0: all) then gives the final
    drift. `base_loss_cache` (a JSON file) keeps the base model's general-set scores
    between runs. Each step also learns `replay_rows` rows of `replay_path` (the model's
    own answers to other everyday prompts), which keeps the drift small; 0 or no path:
    none.
    """

    base_dir: str
    train_path: str
    output_dir: str
    eval_path: str | None = None
    steps: int = 60
    batch_size: int = 4
    learning_rate: float = 1e-3
    warmup_steps: int = 3
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: list[str] | None = None
    seed: int = 0
    max_seconds: float | None = None
    max_tokens: int = 1024
    threads: int | None = None
    nice: int = 19
    backend: str = "auto"
    device: str = "auto"
    load_in_4bit: bool = False
    progress_interval_s: float = 1.0
    general_path: str | None = None
    general_rows: int = 0
    replay_path: str | None = None
    replay_rows: int = 2
    drift_rows: int = 16
    patience: int = 2
    max_fact_rows: int = 64
    base_loss_cache: str | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise SpecError(f"backend is one of {', '.join(BACKENDS)}, not {self.backend!r}")
        if self.device not in DEVICES:
            raise SpecError(f"device is one of {', '.join(DEVICES)}, not {self.device!r}")
        for name in ("steps", "batch_size", "r", "alpha", "max_tokens"):
            if int(getattr(self, name)) < 1:
                raise SpecError(f"{name} must be at least 1")
        if self.learning_rate <= 0:
            raise SpecError("learning_rate must be positive")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise SpecError("max_seconds must be positive")
        for name in ("general_rows", "replay_rows", "drift_rows", "patience", "max_fact_rows"):
            if int(getattr(self, name)) < 0:
                raise SpecError(f"{name} must be at least 0")

    @property
    def adapter_dir(self) -> Path:
        """Where the PEFT adapter is saved."""
        return Path(self.output_dir) / "adapter"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SpecError(f"unknown spec fields: {', '.join(unknown)}")
        missing = [name for name in ("base_dir", "train_path", "output_dir") if name not in data]
        if missing:
            raise SpecError(f"missing spec fields: {', '.join(missing)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise SpecError(str(exc)) from exc

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def read(cls, path: Path) -> TrainSpec:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SpecError(f"cannot read the job spec {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise SpecError(f"the job spec {path} is not a JSON object")
        return cls.from_dict(data)
