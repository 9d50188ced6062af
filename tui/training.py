"""Training state as the Training screen shows it: schedule, runs, adapters.

The daemon has no training API yet (no `/api/train` routes), so today
`fetch_training_state` returns an unavailable state with the reason. When the routes
land, only `TrainingState.from_doc` (and the route names here) need to follow them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cove.daemon.client import ApiError, CoveClient

TRAIN_ROUTE = "/api/train"
NOT_SET_UP = (
    "Personal fine-tuning is not set up yet. When it is, this screen will show the nightly "
    "schedule (on/off, time, last and next run), every training run with its metrics and "
    "loss curve, and the adapters you can activate or roll back. Until then, rate and "
    "correct answers in the chat: they are what training will learn from."
)


@dataclass(frozen=True)
class Schedule:
    enabled: bool
    time: str  # "HH:MM", local time
    last_run: str | None = None
    next_run: str | None = None


@dataclass(frozen=True)
class Run:
    id: str
    started_at: str
    status: str
    examples: int | None = None
    eval_score: float | None = None
    adapter: str | None = None
    losses: tuple[float, ...] = ()


@dataclass(frozen=True)
class Adapter:
    name: str
    created_at: str
    active: bool = False


@dataclass(frozen=True)
class TrainingState:
    available: bool
    reason: str = ""
    schedule: Schedule | None = None
    runs: tuple[Run, ...] = field(default_factory=tuple)
    adapters: tuple[Adapter, ...] = field(default_factory=tuple)

    @classmethod
    def unavailable(cls, reason: str) -> TrainingState:
        return cls(available=False, reason=reason)

    @classmethod
    def from_doc(cls, doc: dict) -> TrainingState:
        """The state from the daemon's training document (the planned shape:
        {"schedule": {...}, "runs": [...], "adapters": [...]})."""
        schedule = doc.get("schedule")
        return cls(
            available=True,
            schedule=Schedule(**schedule) if schedule else None,
            runs=tuple(
                Run(**{**run, "losses": tuple(run.get("losses") or ())})
                for run in doc.get("runs", [])
            ),
            adapters=tuple(Adapter(**adapter) for adapter in doc.get("adapters", [])),
        )


def fetch_training_state(client: CoveClient) -> TrainingState:
    """The daemon's training state; unavailable (with the reason) while it has no
    training API. Raises DaemonNotRunningError when the daemon cannot be reached."""
    try:
        doc = client.request("GET", TRAIN_ROUTE)
    except ApiError as exc:
        if exc.status == 404:
            return TrainingState.unavailable(NOT_SET_UP)
        raise
    return TrainingState.from_doc(doc)


def activate_adapter(client: CoveClient, name: str) -> dict:
    """Make `name` the active adapter (planned route)."""
    return client.request("POST", f"{TRAIN_ROUTE}/adapters/activate", json={"name": name})


def rollback_adapter(client: CoveClient) -> dict:
    """Go back to the adapter active before the current one (planned route)."""
    return client.request("POST", f"{TRAIN_ROUTE}/adapters/rollback")


def set_schedule(client: CoveClient, enabled: bool, time: str) -> dict:
    """Turn the nightly run on or off and set its time (planned route)."""
    return client.request("PUT", f"{TRAIN_ROUTE}/schedule", json={"enabled": enabled, "time": time})
