"""Training state as the Training screen shows it: schedule, runs, adapters.

`TrainingState.from_doc` reads the daemon's `GET /api/train` document (the same as
`cove train status --json`); the functions below call the client's training methods.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from cove.daemon.client import CoveClient

DEFAULT_TIME = "02:00"  # the nightly run's time when the schedule is turned on without one
NOT_AVAILABLE = "Training is not available in this daemon."
STAGE_NAMES = {
    "base": "preparing the base model",
    "dataset": "building the dataset",
    "training": "training",
    "export": "exporting the adapter",
    "evaluating": "judging base against adapter",
    "activating": "loading the adapter",
}
ERROR_WIDTH = 48


# --- formatting -------------------------------------------------------------------------


def when(moment: float | str | None, now: datetime | None = None) -> str:
    """A time as a person reads it: 'today 14:02', 'tomorrow 02:00', '13 Jan 02:00',
    '13 Jan 2024 02:00'. `moment` is epoch seconds or ISO 8601; '-' when unknown."""
    if moment is None or moment == "":
        return "-"
    try:
        if isinstance(moment, str):
            stamp = datetime.fromisoformat(moment)
            stamp = stamp.astimezone() if stamp.tzinfo else stamp
            stamp = stamp.replace(tzinfo=None)
        else:
            stamp = datetime.fromtimestamp(moment)
    except (ValueError, OverflowError, OSError):
        return str(moment)
    now = now or datetime.now()
    clock = stamp.strftime("%H:%M")
    days = (stamp.date() - now.date()).days
    named = {0: "today", -1: "yesterday", 1: "tomorrow"}
    if days in named:
        return f"{named[days]} {clock}"
    if stamp.year == now.year:
        return f"{stamp.day} {stamp:%b} {clock}"
    return f"{stamp.day} {stamp:%b %Y} {clock}"


def duration(seconds: float | None) -> str:
    """'1h05m', '3m20s', '42s'; '?' when unknown."""
    if seconds is None:
        return "?"
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def shorten(text: str | None, width: int = ERROR_WIDTH) -> str:
    """One line of at most `width` characters."""
    line = " ".join((text or "").split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _loss(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


# --- the document -----------------------------------------------------------------------


@dataclass(frozen=True)
class Schedule:
    enabled: bool = False
    time: str | None = None  # "HH:MM", local time; None while off
    next_run: str | None = None  # ISO 8601
    last_run: float | None = None  # epoch seconds: the last scheduled run's start

    @classmethod
    def from_doc(cls, doc: dict | None) -> Schedule:
        doc = doc or {}
        return cls(
            enabled=bool(doc.get("enabled")),
            time=doc.get("time"),
            next_run=doc.get("next_run"),
            last_run=doc.get("last_run"),
        )

    def text(self) -> str:
        last = f"last scheduled run {when(self.last_run)}" if self.last_run else "never run"
        if not self.enabled:
            return f"off · {last}"
        return f"every night at {self.time} · next {when(self.next_run)} · {last}"


@dataclass(frozen=True)
class Conditions:
    """What a scheduled run would decide now."""

    new_examples: int = 0
    min_new_examples: int = 0
    ok: bool = True
    reasons: tuple[str, ...] = ()

    @classmethod
    def from_doc(cls, doc: dict | None) -> Conditions | None:
        if not doc:
            return None
        return cls(
            new_examples=doc.get("new_examples", 0),
            min_new_examples=doc.get("min_new_examples", 0),
            ok=bool(doc.get("ok", True)),
            reasons=tuple(doc.get("reasons") or ()),
        )

    def text(self) -> str:
        examples = "example" if self.new_examples == 1 else "examples"
        return (
            f"{self.new_examples} new {examples} since the last run "
            f"(a scheduled run needs {self.min_new_examples})"
        )


@dataclass(frozen=True)
class Progress:
    step: int | None = None
    steps: int | None = None
    loss: float | None = None
    tokens_per_s: float | None = None
    eta_s: float | None = None
    elapsed_s: float | None = None

    @classmethod
    def from_doc(cls, doc: dict | None) -> Progress:
        doc = doc or {}
        return cls(**{key: doc.get(key) for key in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Run:
    id: str
    trigger: str = "now"  # "now" | "schedule"
    status: str = "running"  # running, promoted, rejected, failed, cancelled, skipped
    stage: str | None = None  # while running: base, dataset, training, export, ...
    started_at: float | None = None
    ended_at: float | None = None
    hardware: str | None = None
    steps: int | None = None
    progress: Progress = field(default_factory=Progress)
    losses: tuple[float, ...] = ()
    data_stats: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    decision: dict = field(default_factory=dict)
    adapter_id: str | None = None
    error: str | None = None

    @classmethod
    def from_doc(cls, doc: dict) -> Run:
        return cls(
            id=doc["id"],
            trigger=doc.get("trigger") or "now",
            status=doc.get("status") or "running",
            stage=doc.get("stage"),
            started_at=doc.get("started_at"),
            ended_at=doc.get("ended_at"),
            hardware=doc.get("hardware"),
            steps=doc.get("steps"),
            progress=Progress.from_doc(doc.get("progress")),
            losses=tuple(doc.get("losses") or ()),
            data_stats=doc.get("data_stats") or {},
            metrics=doc.get("metrics") or {},
            decision=doc.get("decision") or {},
            adapter_id=doc.get("adapter_id"),
            error=doc.get("error"),
        )

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def train_examples(self) -> int | None:
        return self.data_stats.get("train")

    @property
    def heldout_loss(self) -> tuple[float | None, float | None]:
        """(base, adapter) loss on the held-out examples; the trainer's figures until the
        eval gate has written its own."""
        trainer = self.metrics.get("trainer") or self.metrics
        base = (self.metrics.get("base") or {}).get("heldout_loss")
        tuned = (self.metrics.get("adapter") or {}).get("heldout_loss")
        if base is None:
            base = trainer.get("base_eval_loss")
        if tuned is None:
            tuned = trainer.get("eval_loss")
        return base, tuned

    def row(self) -> tuple[str, ...]:
        """The runs table's cells: id, started, trigger, status, train examples, held-out
        loss base -> adapter, adapter, error."""
        base, tuned = self.heldout_loss
        loss = "" if base is None and tuned is None else f"{_loss(base)} → {_loss(tuned)}"
        examples = self.train_examples
        status = f"{self.status} ({self.stage})" if self.running and self.stage else self.status
        return (
            self.id,
            when(self.started_at),
            self.trigger,
            status,
            "" if examples is None else str(examples),
            loss,
            self.adapter_id or "",
            shorten(self.error),
        )

    def outcome(self) -> tuple[str, Literal["information", "warning", "error"]]:
        """How the run ended, for a notification: (text, severity)."""
        text = f"Training run {self.id}: {self.status}"
        if self.error and self.error != self.status:
            return f"{text}: {self.error}", "error"
        return text, "information" if self.status == "promoted" else "warning"

    def progress_text(self) -> str:
        """The live line: stage, and while training the step, loss, speed and time left."""
        stage = STAGE_NAMES.get(self.stage or "", self.stage or "starting")
        parts = [f"Run {self.id}", stage]
        p = self.progress
        if self.stage == "training" and p.step is not None:
            parts.append(f"step {p.step}/{p.steps or self.steps or '?'}")
            parts.append(f"loss {_loss(p.loss)}")
            if p.tokens_per_s:
                parts.append(f"{p.tokens_per_s:.0f} tok/s")
            parts.append(f"ETA {duration(p.eta_s)}")
        elif self.started_at:
            parts.append(f"{duration(time.time() - self.started_at)} so far")
        return " · ".join(parts)


@dataclass(frozen=True)
class Adapter:
    id: str
    run_id: str | None = None
    created_at: float | None = None
    path: str = ""
    base_model: str = ""
    status: str = "promoted"  # promoted | rejected
    metrics: dict = field(default_factory=dict)
    data_stats: dict = field(default_factory=dict)
    active: bool = False
    trained_on_removed_data: bool = False
    removed_sources: int = 0

    @classmethod
    def from_doc(cls, doc: dict) -> Adapter:
        return cls(
            id=doc["id"],
            run_id=doc.get("run_id"),
            created_at=doc.get("created_at"),
            path=doc.get("path") or "",
            base_model=doc.get("base_model") or "",
            status=doc.get("status") or "promoted",
            metrics=doc.get("metrics") or {},
            data_stats=doc.get("data_stats") or {},
            active=bool(doc.get("active")),
            trained_on_removed_data=bool(doc.get("trained_on_removed_data")),
            removed_sources=doc.get("removed_sources") or 0,
        )

    def row(self) -> tuple[str, ...]:
        """The adapters table's cells: id, created, status, active, removed data."""
        removed = ""
        if self.trained_on_removed_data:
            count = self.removed_sources
            removed = f"yes ({count} source{'s' if count != 1 else ''})" if count else "yes"
        return (
            self.id,
            when(self.created_at),
            self.status,
            "● active" if self.active else "",
            removed,
        )


@dataclass(frozen=True)
class TrainingState:
    available: bool
    reason: str = ""
    schedule: Schedule = field(default_factory=Schedule)
    run: Run | None = None  # the run in progress
    runs: tuple[Run, ...] = ()  # newest first
    adapters: tuple[Adapter, ...] = ()  # newest first
    active_adapter: str | None = None
    conditions: Conditions | None = None
    teach_folder: str = ""

    @classmethod
    def from_doc(cls, doc: dict) -> TrainingState:
        """The state from the daemon's `GET /api/train` document."""
        available = doc.get("available", True)
        run = doc.get("run")
        return cls(
            available=bool(available),
            reason="" if available else NOT_AVAILABLE,
            schedule=Schedule.from_doc(doc.get("schedule")),
            run=Run.from_doc(run) if run else None,
            runs=tuple(Run.from_doc(item) for item in doc.get("runs") or ()),
            adapters=tuple(Adapter.from_doc(item) for item in doc.get("adapters") or ()),
            active_adapter=doc.get("active_adapter"),
            conditions=Conditions.from_doc(doc.get("conditions")),
            teach_folder=doc.get("teach_folder") or "",
        )

    @property
    def empty(self) -> bool:
        """Nothing trained yet: no runs and no adapters."""
        return not self.runs and not self.adapters and self.run is None

    def with_run(self, run: Run) -> TrainingState:
        """The state with the run in progress (and its row) replaced by a newer copy."""
        runs = tuple(run if item.id == run.id else item for item in self.runs)
        if all(item.id != run.id for item in runs):
            runs = (run, *runs)
        return replace(self, run=run if run.running else None, runs=runs)


# --- calls onto the daemon ---------------------------------------------------------------


def fetch_training_state(client: CoveClient) -> TrainingState:
    """The daemon's training state. Raises DaemonNotRunningError when the daemon cannot be
    reached, ApiError when it answers with an error."""
    return TrainingState.from_doc(client.train_status())


def fetch_run(client: CoveClient, run_id: str) -> Run:
    return Run.from_doc(client.train_run(run_id)["run"])


def train_now(client: CoveClient) -> Run:
    """Start a run (the daemon's configured steps); ApiError 409 while one is running."""
    return Run.from_doc(client.train_now()["run"])


def cancel_run(client: CoveClient) -> Run:
    """Stop the run in progress (the daemon keeps the steps done)."""
    return Run.from_doc(client.train_cancel()["run"])


def set_schedule(client: CoveClient, enabled: bool, time_of_day: str | None) -> Schedule:
    """Train every night at `time_of_day` (HH:MM), or turn the schedule off."""
    if enabled:
        doc = client.set_schedule(time_of_day or DEFAULT_TIME)
    else:
        doc = client.set_schedule(None, enabled=False)
    return Schedule.from_doc(doc["schedule"])


def activate_adapter(client: CoveClient, adapter_id: str) -> dict:
    """Load `adapter_id` into the running model."""
    return client.activate_adapter(adapter_id)["adapter"]


def rollback_adapter(client: CoveClient) -> dict:
    """Go back to the adapter active before the current one (or to none)."""
    return client.rollback_adapter()
