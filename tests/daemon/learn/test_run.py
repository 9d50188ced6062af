"""A training run as a `Run`: its row in training_runs and its document in the API."""

from __future__ import annotations

from cove.daemon.learn.run import Run


def test_a_run_goes_to_its_row_and_back():
    run = Run.new("now", "running", 30, "cpu")
    run.progress, run.losses, run.trainer_pid = {"step": 3}, [2.5, 2.1], 4242
    row = run.to_row()
    assert "trainer_pid" not in row  # live only
    assert row["progress"] == '{"step": 3}' and row["losses"] == "[2.5, 2.1]"
    again = Run.from_row(row)
    expected = run.as_dict()
    del expected["trainer_pid"]
    assert again.as_dict() == expected
    assert again.progress == {"step": 3} and again.trainer_pid is None
    assert "trainer_pid" not in again.as_dict() and run.as_dict()["trainer_pid"] == 4242


def test_the_document_has_the_sixteen_keys_of_a_run():
    doc = Run.new("schedule", "skipped", None, "cpu").as_dict()
    assert len(doc) == 16 and doc["stage_seconds"] == {} and doc["ended_at"] is None
