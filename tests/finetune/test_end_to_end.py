"""End to end on the CPU with the default model: a handful of user facts -> dataset ->
training in the subprocess -> GGUF adapter -> llama.cpp. The taught fact is answered with
the adapter and not without it; the eval gate promotes that adapter and rejects one
trained on noise."""

from __future__ import annotations

from pathlib import Path

import pytest

from cove.finetune.evaluate import (
    backend_answerer,
    compare_on_probes,
    decide,
    heldout_loss,
    score_probes,
    select_probes,
)
from tests.finetune.facts import CAT_NAME, CAT_QUESTION, ask


@pytest.fixture(scope="session")
def probes(facts_data):
    return select_probes(facts_data.dataset.train + facts_data.dataset.heldout)


@pytest.fixture(scope="session")
def probe_scores(probe_backend, probes, trained, greedy):
    return compare_on_probes(probe_backend, probes, trained.gguf, greedy)


def metrics(trained, which: str, probe_metrics: dict) -> dict:
    loss = trained.result.metrics["eval_loss" if which == "adapter" else "base_eval_loss"]
    return {"heldout_loss": loss, **probe_metrics}


def test_the_dataset_of_facts(facts_data):
    stats = facts_data.dataset.stats
    assert stats["read"]["teach"] == 7 and stats["read"]["correction"] == 1
    assert stats["duplicates_dropped"] == 1
    assert (stats["train"], stats["heldout"]) == (5, 2)
    # held out: paraphrases of facts that stay in training
    trained_targets = {row["target"] for row in facts_data.dataset.train}
    assert all(row["target"] in trained_targets for row in facts_data.dataset.heldout)


def test_training_streams_progress_and_learns(trained):
    events = trained.events
    kinds = [e["event"] for e in events]
    assert kinds[:2] == ["start", "loaded"] and kinds[-1] == "done"
    progress = [e for e in events if e["event"] == "progress"]
    assert progress[-1]["step"] == progress[-1]["steps"] == 20
    for event in progress:
        assert set(event) >= {"step", "steps", "loss", "tokens_per_s", "eta_s"}
    assert progress[-1]["eta_s"] == 0
    done = trained.result.metrics
    assert done["stopped"] is None and done["steps_done"] == 20
    assert done["train_loss"] < progress[0]["loss"] / 5
    # the held-out paraphrases got far more likely
    assert done["eval_loss"] < done["base_eval_loss"] - 1.0
    assert (Path(done["adapter_dir"]) / "adapter_model.safetensors").is_file()


def test_the_taught_fact_is_answered_with_the_adapter_only(probe_backend, trained, greedy):
    probe_backend.set_adapter(None)
    without = ask(probe_backend, greedy, CAT_QUESTION)
    probe_backend.set_adapter(trained.gguf)
    try:
        with_adapter = ask(probe_backend, greedy, CAT_QUESTION)
    finally:
        probe_backend.set_adapter(None)
    assert CAT_NAME in with_adapter.lower(), with_adapter
    assert CAT_NAME not in without.lower(), without


def test_the_gate_promotes_the_adapter(trained, probe_scores):
    base = metrics(trained, "base", probe_scores["base"])
    adapter = metrics(trained, "adapter", probe_scores["adapter"])
    assert probe_scores["adapter"]["probe_match"] > probe_scores["base"]["probe_match"]
    decision = decide(base, adapter)
    assert decision.promote, decision.reasons


def test_the_gate_rejects_an_adapter_trained_on_noise(
    noise_trained, probe_backend, probes, probe_scores, greedy
):
    probe_backend.set_adapter(noise_trained.gguf)
    try:
        noisy, _ = score_probes(backend_answerer(probe_backend, greedy), probes)
    finally:
        probe_backend.set_adapter(None)
    base = metrics(noise_trained, "base", probe_scores["base"])
    adapter = metrics(noise_trained, "adapter", noisy)
    decision = decide(base, adapter)
    assert not decision.promote, decision.reasons
    assert not decision.checks["heldout_loss"]["passed"]


def test_the_heldout_loss_in_torch_agrees_with_the_trainer(trained, hf_base, facts_data):
    adapter = Path(trained.result.adapter_dir)
    loss = heldout_loss(hf_base, facts_data.dataset.heldout, adapter)
    assert loss == pytest.approx(trained.result.metrics["eval_loss"], rel=1e-3)
