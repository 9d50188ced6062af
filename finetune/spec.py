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
