"""The nightly job wired to the training service: APScheduler fires it with time injected,
and the service starts a run only when every condition holds, else records it skipped
with the reasons. On a real cove.db, a real job store and the real default model."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from cove.daemon.config import load_config
from cove.daemon.learn.training import TrainingService
from cove.daemon.runtime import Runtime
from cove.daemon.runtime.llamacpp import LlamaCppBackend
from cove.daemon.runtime.models import DEFAULT_MODEL_ID
from cove.daemon.scheduler import TrainingScheduler
from cove.daemon.store import open_db
from cove.finetune.teach import teach
from tests.daemon.test_scheduler import inject_now


@pytest.fixture()
def runtime(default_gguf):
    runtime = Runtime(LlamaCppBackend(default_gguf, DEFAULT_MODEL_ID, context=512, threads=1))
    yield runtime
    runtime.close()


def service_in(home, runtime, config_text: str = "", gpu: bool = False, battery: bool = False):
    (home / "config.toml").write_text(config_text)
    config = load_config(home, environ={})
    open_db(config.paths.db).close()
    return TrainingService(config, runtime, gpu=lambda: gpu, battery=lambda: battery)


def fire_scheduled(monkeypatch, service: TrainingService, home) -> dict:
    """Schedule 02:00, move time past it, let APScheduler fire; the run it recorded."""
    scheduler = TrainingScheduler(home / "scheduler.db", service.on_schedule)
    scheduler.start()
    try:
        planned = datetime.fromisoformat(scheduler.set_daily("02:00")["next_run"])
        inject_now(monkeypatch, planned + timedelta(seconds=5))
        scheduler.wakeup()
        runs = _wait_for_runs(service)
    finally:
        scheduler.shutdown()
    service.shutdown()
    return service.get_run(runs[0]["id"])


def _wait_for_runs(service: TrainingService, timeout: float = 30.0) -> list[dict]:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = service.runs()
        if runs:
            return runs
        time.sleep(0.1)
    raise AssertionError("the scheduled job did not fire")


def teach_pairs(home, count: int) -> None:
    for n in range(count):
        teach(home / "teach", f"What is fact number {n}?", f"Fact {n} is {n * 7}.")


def test_a_due_run_without_enough_new_examples_is_skipped(tmp_path, runtime, monkeypatch):
    teach_pairs(tmp_path, 2)
    service = service_in(tmp_path, runtime, "[train]\nallow_cpu = true\nmin_new_examples = 3\n")
    run = fire_scheduled(monkeypatch, service, tmp_path)
    assert (run["trigger"], run["status"]) == ("schedule", "skipped")
    assert run["error"] == "only 2 new examples since the last run (needs 3)"


def test_a_due_run_on_battery_without_a_gpu_is_skipped_with_every_reason(
    tmp_path, runtime, monkeypatch
):
    teach_pairs(tmp_path, 5)
    service = service_in(tmp_path, runtime, battery=True)
    run = fire_scheduled(monkeypatch, service, tmp_path)
    assert run["status"] == "skipped"
    assert run["error"] == "no GPU, and [train] allow_cpu is off; running on battery"


def test_a_due_run_whose_conditions_hold_starts(tmp_path, runtime, monkeypatch):
    # A GPU is reported, so the run starts; the configured base is not a model, so it
    # fails fast at its first stage, with the reason.
    teach_pairs(tmp_path, 5)
    config = f'[train]\nbase_model = "{tmp_path / "no-model"}"\n'
    service = service_in(tmp_path, runtime, config, gpu=True)
    run = fire_scheduled(monkeypatch, service, tmp_path)
    assert (run["trigger"], run["status"]) == ("schedule", "failed")
    assert "is not an HF model directory" in run["error"]
    assert service.conditions()["new_examples"] == 5  # a failed run consumes nothing
