"""The eval gate's decision: promote an adapter that recalls the user's facts and stays
close to the base on general prompts; say why, check by check."""

from __future__ import annotations

import math

from cove.finetune.evaluate import Margins, decide, trainer_measures

BASE = {"probe_match": 0.0, "probes": 4, "probe_rouge_l": 0.20, "general_loss": 0.60}
LEARNED = {"probe_match": 1.0, "probes": 4, "probe_rouge_l": 0.95, "general_loss": 0.65}


def test_an_adapter_that_recalls_every_fact_and_stays_close_is_promoted():
    decision = decide(BASE, LEARNED)
    assert decision.promote, decision.reasons
    assert set(decision.checks) == {"recall", "probe_rouge_l", "general_drift"}
    assert decision.reasons[0] == "recall 4/4 (1.000) vs base 0/4: good enough"
    assert decision.reasons[2] == "general drift +0.050 nats/token: within 0.1"
    assert decision.checks["general_drift"]["drift"] == LEARNED["general_loss"] - 0.60


def test_recall_below_the_minimum_is_rejected_even_when_better_than_the_base():
    adapter = {**LEARNED, "probe_match": 0.5}
    decision = decide(BASE, adapter)
    assert not decision.promote
    assert decision.reasons[0] == "recall 2/4 (0.500) vs base 0/4: needed >= 0.750"
    assert decide(BASE, adapter, Margins(min_recall=0.5)).promote


def test_recall_may_not_fall_below_the_base():
    base = {**BASE, "probe_match": 1.0}  # the base already knew every fact
    assert not decide(base, {**LEARNED, "probe_match": 0.75}).promote
    assert decide(base, LEARNED).promote  # equal is enough by default
    assert not decide(base, LEARNED, Margins(min_match_gain=0.1)).promote


def test_drift_beyond_the_margin_is_rejected():
    drifted = {**LEARNED, "general_loss": 0.85}
    decision = decide(BASE, drifted, Margins(max_drift=0.15))
    assert not decision.promote
    assert "general drift +0.250 nats/token: over 0.15" in decision.reasons
    assert decide(BASE, drifted, Margins(max_drift=0.3)).promote


def test_a_diverged_adapter_is_rejected():
    decision = decide(BASE, {**LEARNED, "general_loss": math.nan})
    assert not decision.promote
    assert decision.checks["general_drift"]["adapter"] == math.inf


def test_held_out_paraphrases_must_get_more_likely_when_there_are_any():
    base = {**BASE, "heldout_loss": 2.5}
    assert decide(base, {**LEARNED, "heldout_loss": 0.3}).promote
    decision = decide(base, {**LEARNED, "heldout_loss": 2.47})
    assert not decision.promote
    reason = "held-out paraphrase loss 2.4700 vs base 2.5000: needed <= 2.4500"
    assert decision.reasons[-1] == reason
    # no held-out paraphrases: no such check, and recall alone judges
    assert "heldout_loss" not in decide({**BASE, "heldout_loss": None}, LEARNED).checks


def test_drift_alone_judges_nothing():
    decision = decide({"general_loss": 0.6}, {"general_loss": 0.6})
    assert not decision.promote
    assert decision.reasons == ["nothing to judge the adapter on (no held-out data, no probes)"]
    assert decide({}, {}).to_dict()["promote"] is False


def test_the_trainer_reports_both_losses_of_base_and_adapter():
    done = {"base_eval_loss": 2.0, "eval_loss": 0.5, "base_general_loss": 0.6, "general_loss": 0.7}
    base, adapter = trainer_measures(done)
    assert base == {"heldout_loss": 2.0, "general_loss": 0.6}
    assert adapter == {"heldout_loss": 0.5, "general_loss": 0.7}
