"""The nightly training schedule: APScheduler with a persistent job store in COVE_HOME.

One cron job, `cove-nightly-training`, fires at the chosen time. Runs missed while the
machine slept are coalesced into one (and still run within a grace period), and only one
run happens at a time. Whether a due run actually trains is decided when it fires, by
`check_conditions`: enough new examples, a GPU or `allow_cpu`, and not on battery.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

log = logging.getLogger("cove.scheduler")

JOB_ID = "cove-nightly-training"
# The job's function as the persistent store keeps it: an importable reference, never an
# object. Jobs stored by earlier versions name it too, so it must keep resolving.
JOB_FUNCTION = "cove.daemon.scheduler:fire"
# A run missed by up to this long (the laptop was asleep at 02:00) still happens on wake.
MISFIRE_GRACE_S = 12 * 3600
TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def fire() -> None:
    """The job's function (`JOB_FUNCTION`). It does nothing itself: the scheduler that ran
    it hears that the job ran and calls the `on_fire` it was built with, so what a firing
    does belongs to that scheduler object, not to this module."""


@dataclass(frozen=True)
class Conditions:
    """What a scheduled run needs before it starts."""

    new_examples: int
    min_new_examples: int
    gpu: bool
    allow_cpu: bool
    on_battery: bool


@dataclass
class Check:
    ok: bool
    reasons: list[str] = field(default_factory=list)


def check_conditions(conditions: Conditions) -> Check:
    """All must hold: enough new examples, a GPU or allow_cpu, and mains power."""
    reasons = []
    if conditions.new_examples < conditions.min_new_examples:
        reasons.append(
            f"only {conditions.new_examples} new examples since the last run "
            f"(needs {conditions.min_new_examples})"
        )
    if not conditions.gpu and not conditions.allow_cpu:
        reasons.append("no GPU, and [train] allow_cpu is off")
    if conditions.on_battery:
        reasons.append("running on battery")
    return Check(ok=not reasons, reasons=reasons)


def on_battery() -> bool:
    """True only when a battery is known to be discharging (desktops have none)."""
    import psutil

    battery = psutil.sensors_battery()
    return battery is not None and not battery.power_plugged


def parse_time(text: str) -> tuple[int, int]:
    """ "02:00" -> (2, 0); a ValueError says what a time looks like."""
    match = TIME.match(text.strip())
    if not match:
        raise ValueError(f"not a time of day: {text!r} (use HH:MM, 24-hour, e.g. 02:00)")
    return int(match.group(1)), int(match.group(2))


class TrainingScheduler:
    """The cron job in COVE_HOME/scheduler.db, fired by APScheduler's own thread."""

    def __init__(self, store_path: Path, on_fire: Callable[[], None]) -> None:
        from apscheduler.events import EVENT_JOB_EXECUTED
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        self._on_fire = on_fire
        self._scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{store_path}")},
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": MISFIRE_GRACE_S,
            },
        )
        # Called on APScheduler's worker thread once `fire` has run (a coalesced catch-up
        # after a sleep runs it once).
        self._scheduler.add_listener(self._fired, EVENT_JOB_EXECUTED)

    def start(self) -> None:
        self._scheduler.start()

    def _fired(self, event) -> None:
        if event.job_id == JOB_ID:
            self._on_fire()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def wakeup(self) -> None:
        """Look for due jobs now instead of at the next planned wake-up."""
        self._scheduler.wakeup()

    def set_daily(self, time_of_day: str) -> dict:
        """Train every day at HH:MM (local time), replacing any earlier schedule."""
        from apscheduler.triggers.cron import CronTrigger

        hour, minute = parse_time(time_of_day)
        self._scheduler.add_job(
            JOB_FUNCTION,
            CronTrigger(hour=hour, minute=minute),
            id=JOB_ID,
            name="nightly training",
            replace_existing=True,
        )
        return self.info()

    def turn_off(self) -> dict:
        if self._scheduler.get_job(JOB_ID) is not None:
            self._scheduler.remove_job(JOB_ID)
        return self.info()

    def info(self) -> dict:
        """{"enabled", "time", "next_run"} (next_run as ISO 8601, None when off)."""
        job = self._scheduler.get_job(JOB_ID)
        if job is None:
            return {"enabled": False, "time": None, "next_run": None}
        fields = {f.name: str(f) for f in job.trigger.fields}
        time_of_day = f"{int(fields['hour']):02d}:{int(fields['minute']):02d}"
        next_run: datetime | None = getattr(job, "next_run_time", None)  # unset until started
        return {
            "enabled": True,
            "time": time_of_day,
            "next_run": next_run.isoformat() if next_run else None,
        }
