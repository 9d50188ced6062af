"""End to end on the CPU with the default model: a handful of user facts -> dataset ->
training in the subprocess (epochs, early stopping, the best checkpoint) -> GGUF adapter
-> llama.cpp. The taught fact is answered with the adapter and not without it; the eval
gate promotes that adapter and rejects one trained on noise."""

from __future__ import annotations

from pathlib import Path

import pytest

from cove.finetune.batches import encode, pooled_loss, row_scores
from cove.finetune.epochs import fact_rows
from cove.finetune.evaluate import (
    backend_answerer,
    compare_on_probes,
    decide,
    heldout_loss,
    score_probes,
    select_probes,
    trainer_measures,
)
from tests.finetune.conftest import GENERAL_ROWS, STEPS
from tests.finetune.facts import CAT_NAME, CAT_QUESTION, ask


@pytest.fixture(scope="session")
def probes(facts_data):
    return select_probes(facts_data.dataset.train + facts_data.dataset.heldout)


@pytest.fixture(scope="session")
def probe_scores(probe_backend, probes, trained, greedy):
    return compare_on_probes(probe_backend, probes, trained.gguf, greedy)


def metrics(trained, which: str, probe_metrics: dict) -> dict:
    base, adapter = trainer_measures(trained.result.metrics)
    return {**(adapter if which == "adapter" else base), **probe_metrics}


def epoch_events(trained) -> list[dict]:
    return [event for event in trained.events if event["event"] == "epoch"]


def test_the_dataset_of_facts(facts_data):
    stats = facts_data.dataset.stats
    assert stats["read"]["teach"] == 7 and stats["read"]["correction"] == 1
    assert stats["duplicates_dropped"] == 1
    assert (stats["train"], stats["heldout"]) == (5, 2)
    # held out: paraphrases of facts that stay in training
    trained_targets = {row["target"] for row in facts_data.dataset.train}
    assert all(row["target"] in trained_targets for row in facts_data.dataset.heldout)


def test_training_streams_progress_and_epochs(trained):
    events = trained.events
    kinds = [e["event"] for e in events]
    assert kinds[:2] == ["start", "loaded"] and kinds[-1] == "done"
    progress = [e for e in events if e["event"] == "progress"]
    for event in progress:
        assert set(event) >= {"step", "steps", "loss", "tokens_per_s", "eta_s"}
        assert event["steps"] == STEPS  # the budget; early stopping may end sooner
    loaded = events[1]
    assert loaded["steps_per_epoch"] == 2  # 5 train rows, batches of 4
    assert loaded["general_examples"] == GENERAL_ROWS
    epochs = epoch_events(trained)
    assert [e["step"] for e in epochs] == [2 * e["epoch"] for e in epochs]
    assert [e["epoch"] for e in epochs] == list(range(1, len(epochs) + 1))
    assert all(e["facts"] == 5 and e["epochs"] == STEPS // 2 for e in epochs)
    # the drift is measured once every fact is learned, and only then
    assert all((e["drift"] is not None) == (e["learned"] == 5) for e in epochs)
    done = trained.result.metrics
    assert done["stopped"] is None
    assert done["train_loss"] < progress[0]["loss"] / 5
    assert done["general_drift"] == pytest.approx(done["general_loss"] - done["base_general_loss"])
    assert done["general_examples"] == GENERAL_ROWS
    # the held-out paraphrases got far more likely
    assert done["eval_loss"] < done["base_eval_loss"] - 1.0
    assert (Path(done["adapter_dir"]) / "adapter_model.safetensors").is_file()


def test_training_stops_early_once_every_fact_is_learned(trained):
    done, epochs = trained.result.metrics, epoch_events(trained)
    best = epochs[done["best_epoch"] - 1]
    assert best["learned"] == best["facts"] == 5  # greedy decoding writes every answer
    table = [(e["epoch"], e["learned"], e["fact_loss"], e["drift"]) for e in epochs]
    assert done["early_stop"] is not None and done["steps_done"] < STEPS, table
    # stopped `patience` (2) epochs after the best, none of them better
    assert epochs[-1]["epoch"] == best["epoch"] + 2
    assert not any(e["improved"] for e in epochs[best["epoch"] :])
    assert done["steps_done"] == epochs[-1]["step"] and done["best_step"] == best["step"]


def test_the_adapter_saved_is_the_best_checkpoint(trained, hf_base, facts_data, tokenizer):
    """The saved weights score the facts as the best epoch measured them, not as the last
    epoch did (training went on for two epochs after it)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    done, epochs = trained.result.metrics, epoch_events(trained)
    best, last = epochs[done["best_epoch"] - 1], epochs[-1]
    assert last["fact_loss"] != pytest.approx(best["fact_loss"], rel=1e-3)
    model = AutoModelForCausalLM.from_pretrained(hf_base, dtype=torch.float32)
    model = PeftModel.from_pretrained(model, done["adapter_dir"])
    facts = [encode(tokenizer, row) for row in fact_rows(facts_data.dataset.train)]
    scores = row_scores(model, facts, tokenizer.pad_token_id or 0)
    assert sum(score.greedy for score in scores) == best["learned"]
    assert pooled_loss(scores) == pytest.approx(best["fact_loss"], rel=1e-3)


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
    assert not decision.checks["recall"]["passed"]


def test_the_heldout_loss_in_torch_agrees_with_the_trainer(trained, hf_base, facts_data):
    adapter = Path(trained.result.adapter_dir)
    loss = heldout_loss(hf_base, facts_data.dataset.heldout, adapter)
    assert loss == pytest.approx(trained.result.metrics["eval_loss"], rel=1e-3)
