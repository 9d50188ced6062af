"""A training run: what the daemon records about it (one `training_runs` row) and what the
API shows (`GET /api/train`, `cove train status --json`)."""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

TERMINAL = ("promoted", "rejected", "failed", "cancelled", "skipped")


def new_run_id() -> str:
    return time.strftime("r_%Y%m%d-%H%M%S_") + uuid.uuid4().hex[:6]


@dataclass
class Run:
    """One run, from its start to its end (`status` in TERMINAL)."""

    # Columns stored as JSON text in `training_runs`.
    JSON_FIELDS: ClassVar[tuple[str, ...]] = (
        "progress",
        "losses",
        "data_stats",
        "metrics",
        "decision",
        "stage_seconds",
    )

    id: str
    trigger: str  # "now" | "schedule"
    status: str  # "running", then one of TERMINAL
    stage: str | None = None  # where a running run is (STAGES)
    started_at: float = 0.0
    ended_at: float | None = None
    hardware: str | None = None
    steps: int | None = None
    progress: dict | None = field(default_factory=dict)
    losses: list | None = field(default_factory=list)
    data_stats: dict | None = field(default_factory=dict)
    metrics: dict | None = field(default_factory=dict)
    decision: dict | None = field(default_factory=dict)
    stage_seconds: dict | None = field(default_factory=dict)
    adapter_id: str | None = None
    error: str | None = None
    # The trainer subprocess while it runs: shown live, never stored.
    trainer_pid: int | None = None

    @classmethod
    def new(cls, trigger: str, status: str, steps: int | None, hardware: str) -> Run:
        return cls(
            id=new_run_id(),
            trigger=trigger,
            status=status,
            started_at=time.time(),
            hardware=hardware,
            steps=steps,
        )

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Run:
        """A `training_runs` row (JSON columns decoded)."""
        decoded = {key: json.loads(row[key] or "null") for key in cls.JSON_FIELDS}
        return cls(**{**row, **decoded})

    def to_row(self) -> dict[str, Any]:
        """The `training_runs` row (JSON columns encoded; the live-only pid left out)."""
        row = self.as_dict()
        row.pop("trainer_pid", None)
        return row | {key: json.dumps(row[key]) for key in self.JSON_FIELDS}

    def as_dict(self) -> dict[str, Any]:
        """The run's document, as the API shows it (`trainer_pid` only while known)."""
        doc = dataclasses.asdict(self)
        if doc["trainer_pid"] is None:
            del doc["trainer_pid"]
        return doc
