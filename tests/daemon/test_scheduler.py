"""The nightly schedule: a persistent cron job, fired by APScheduler with time injected,
coalesced after a sleep; and the conditions a scheduled run must meet."""

from __future__ import annotations

import pickle
import sqlite3
import threading
import time
from datetime import datetime, timedelta

import pytest

from cove.daemon.scheduler import (
    JOB_FUNCTION,
    Conditions,
    TrainingScheduler,
    check_conditions,
    parse_time,
)


class Firings:
    def __init__(self) -> None:
        self.count = 0
        self.event = threading.Event()

    def __call__(self) -> None:
        self.count += 1
        self.event.set()


def inject_now(monkeypatch, now: datetime) -> None:
    """APScheduler reads the time through its module's `datetime`: give it ours."""

    class Clock(datetime):
        @classmethod
        def now(cls, tz=None):
            return now if tz is None else now.astimezone(tz)

    monkeypatch.setattr("apscheduler.schedulers.base.datetime", Clock)


@pytest.fixture()
def scheduler(tmp_path):
    firings = Firings()
    scheduler = TrainingScheduler(tmp_path / "scheduler.db", firings)
    scheduler.start()
    yield scheduler, firings
    scheduler.shutdown()


def test_a_due_job_fires_when_its_time_comes(scheduler, monkeypatch):
    training, firings = scheduler
    planned = datetime.fromisoformat(training.set_daily("02:00")["next_run"])
    assert (planned.hour, planned.minute) == (2, 0)
    inject_now(monkeypatch, planned + timedelta(seconds=5))
    training.wakeup()
    assert firings.event.wait(10)
    assert datetime.fromisoformat(training.info()["next_run"]) == planned + timedelta(days=1)


def test_runs_missed_during_a_sleep_are_coalesced_into_one(scheduler, monkeypatch):
    training, firings = scheduler
    planned = datetime.fromisoformat(training.set_daily("02:00")["next_run"])
    inject_now(monkeypatch, planned + timedelta(days=2, hours=1))  # slept through three
    training.wakeup()
    assert firings.event.wait(10)
    time.sleep(1)
    assert firings.count == 1


def test_the_schedule_survives_a_restart_and_can_be_turned_off(tmp_path):
    first = TrainingScheduler(tmp_path / "scheduler.db", lambda: None)
    first.start()
    first.set_daily("23:30")
    first.shutdown()
    again = TrainingScheduler(tmp_path / "scheduler.db", lambda: None)
    again.start()
    try:
        assert again.info()["enabled"] and again.info()["time"] == "23:30"
        assert again.turn_off() == {"enabled": False, "time": None, "next_run": None}
    finally:
        again.shutdown()


def test_a_stored_job_fires_the_handler_of_the_scheduler_that_loads_it(tmp_path, monkeypatch):
    """The job store keeps the job's function by name: a job stored by an earlier daemon
    fires what the new daemon's scheduler was built with, and only that."""
    earlier = Firings()
    first = TrainingScheduler(tmp_path / "scheduler.db", earlier)
    first.start()
    planned = datetime.fromisoformat(first.set_daily("02:00")["next_run"])
    first.shutdown()
    stored = sqlite3.connect(tmp_path / "scheduler.db").execute(
        "SELECT job_state FROM apscheduler_jobs"
    )
    assert (
        pickle.loads(stored.fetchone()[0])["func"] == JOB_FUNCTION == "cove.daemon.scheduler:fire"
    )
    now = Firings()
    again = TrainingScheduler(tmp_path / "scheduler.db", now)
    again.start()
    try:
        inject_now(monkeypatch, planned + timedelta(seconds=5))
        again.wakeup()
        assert now.event.wait(10)
    finally:
        again.shutdown()
    assert (earlier.count, now.count) == (0, 1)


@pytest.mark.parametrize("text", ["2", "24:00", "02:60", "two", ""])
def test_a_bad_time_is_refused_with_the_expected_form(text):
    with pytest.raises(ValueError, match="HH:MM"):
        parse_time(text)


def test_every_condition_must_hold_and_each_failure_is_named():
    ready = Conditions(
        new_examples=5, min_new_examples=3, gpu=False, allow_cpu=True, on_battery=False
    )
    assert check_conditions(ready).ok
    blocked = check_conditions(
        Conditions(new_examples=1, min_new_examples=3, gpu=False, allow_cpu=False, on_battery=True)
    )
    assert not blocked.ok
    assert blocked.reasons == [
        "only 1 new examples since the last run (needs 3)",
        "no GPU, and [train] allow_cpu is off",
        "running on battery",
    ]
