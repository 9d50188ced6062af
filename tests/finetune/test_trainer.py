"""The trainer subprocess seen from the daemon's side: a crash, a kill, a bad spec, a
cancel or the end of the time window all come back as a result; nothing raises."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from cove.finetune.spec import TrainSpec
from cove.finetune.trainer import run_training
from tests.finetune.conftest import THREADS


def spec_for(base: Path, data: dict, out: Path, **overrides) -> TrainSpec:
    fields = {
        "base_dir": str(base),
        "train_path": str(data["train"]),
        "eval_path": str(data["heldout"]),
        "output_dir": str(out),
        "steps": 50,
        "threads": THREADS,
        "nice": 0,
    }
    return TrainSpec(**{**fields, **overrides})


def test_a_missing_base_is_an_error_result_from_a_niced_child(tmp_path, facts_data):
    events: list[dict] = []
    spec = spec_for(tmp_path / "no-base", facts_data.paths, tmp_path / "run", nice=19)
    result = run_training(spec, events.append)
    assert not result.ok and result.status == "error"
    assert "no HF base model" in result.message
    start = events[0]
    assert start["event"] == "start" and start["backend"] == "peft" and start["device"] == "cpu"
    assert start["nice"] == 19  # low CPU priority, so chat stays responsive
    assert events[-1]["event"] == "error"
    assert result.returncode == 1
    saved = json.loads((tmp_path / "run" / "result.json").read_text())
    assert saved["status"] == "error"
    lines = (tmp_path / "run" / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["start", "error"]


def test_a_killed_trainer_is_an_error_result(tmp_path, hf_base, facts_data):
    def kill_when_loaded(event: dict) -> None:
        if event["event"] == "start":
            kill_when_loaded.pid = event["pid"]
        if event["event"] == "loaded":
            os.kill(kill_when_loaded.pid, signal.SIGKILL)  # as the OOM killer would

    result = run_training(spec_for(hf_base, facts_data.paths, tmp_path / "run"), kill_when_loaded)
    assert not result.ok and result.status == "error"
    assert result.returncode == -signal.SIGKILL
    assert "killed by SIGKILL (killed: out of memory?)" in result.message
    assert result.adapter_dir is None


def test_cancel_stops_the_child_which_saves_its_steps(tmp_path, hf_base, facts_data):
    cancel = threading.Event()
    seen: list[str] = []

    def on_event(event: dict) -> None:
        seen.append(event["event"])
        if event["event"] == "loaded":
            raise RuntimeError("a faulty callback does not stop the run")
        if event["event"] == "progress":
            cancel.set()

    spec = spec_for(hf_base, facts_data.paths, tmp_path / "run")
    result = run_training(spec, on_event, cancel=cancel)
    assert result.status == "cancelled" and not result.ok
    assert result.metrics["stopped"] == "signal"
    assert 1 <= result.metrics["steps_done"] < spec.steps
    assert (Path(result.adapter_dir) / "adapter_config.json").is_file()
    assert seen[-1] == "done" and "loaded" in seen


def test_the_time_window_stops_training(tmp_path, hf_base, facts_data):
    # A window shorter than loading the model: training stops before its first step.
    spec = spec_for(hf_base, facts_data.paths, tmp_path / "run", max_seconds=0.5)
    result = run_training(spec)
    assert result.status == "stopped" and not result.ok
    assert result.metrics["stopped"] == "time_window"
    assert result.metrics["steps_done"] == 0 and result.adapter_dir is None
    assert "time_window" in result.message


def test_an_unreadable_spec_is_reported_as_an_event(tmp_path):
    bad = tmp_path / "spec.json"
    bad.write_text(json.dumps({"base_dir": "x", "train_path": "y", "output_dir": "z", "r": 0}))
    done = subprocess.run(
        [sys.executable, "-m", "cove.finetune.train_run", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    event = json.loads(done.stdout.strip().splitlines()[-1])
    assert event == {"event": "error", "message": "r must be at least 1", "type": "SpecError"}
    # handed a dict, run_training checks it before starting anything
    result = run_training({"base_dir": "x", "train_path": "y"})
    assert not result.ok and result.message == "bad training spec: missing spec fields: output_dir"


def test_a_trainer_that_cannot_start_is_an_error_result(tmp_path, facts_data):
    spec = spec_for(tmp_path, facts_data.paths, tmp_path / "run")
    result = run_training(spec, python=str(tmp_path / "no-python"))
    assert not result.ok and "cannot start the trainer" in result.message
