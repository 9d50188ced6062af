"""The eval gate's decision: promote only when the adapter wins by the margins."""

from __future__ import annotations

import math

from cove.finetune.evaluate import Margins, decide

BASE = {"heldout_loss": 2.5, "probe_match": 0.25, "probe_rouge_l": 0.40}


def test_a_better_adapter_is_promoted():
    decision = decide(BASE, {"heldout_loss": 0.3, "probe_match": 1.0, "probe_rouge_l": 0.9})
    assert decision.promote
    assert set(decision.checks) == {"heldout_loss", "probe_match", "probe_rouge_l"}
    assert all(c["passed"] for c in decision.checks.values())


def test_loss_must_drop_by_the_margin():
    adapter = {"heldout_loss": 2.47, "probe_match": 0.5, "probe_rouge_l": 0.5}
    decision = decide(BASE, adapter, Margins(min_loss_drop=0.05))
    assert not decision.promote
    assert not decision.checks["heldout_loss"]["passed"]
    assert "needed <= 2.4500" in decision.reasons[0]
    assert decide(BASE, adapter, Margins(min_loss_drop=0.01)).promote


def test_worse_probes_reject_even_with_a_lower_loss():
    decision = decide(BASE, {"heldout_loss": 1.0, "probe_match": 0.0, "probe_rouge_l": 0.5})
    assert not decision.promote
    assert not decision.checks["probe_match"]["passed"]


def test_a_required_probe_gain():
    adapter = {"heldout_loss": 1.0, "probe_match": 0.25, "probe_rouge_l": 0.6}
    assert decide(BASE, adapter).promote  # equal match rate: not worse is enough by default
    assert not decide(BASE, adapter, Margins(min_match_gain=0.1)).promote


def test_a_diverged_adapter_is_rejected():
    decision = decide(BASE, {"heldout_loss": math.nan, "probe_match": 0.5, "probe_rouge_l": 0.5})
    assert not decision.promote
    assert decision.checks["heldout_loss"]["adapter"] == math.inf


def test_without_heldout_data_the_probes_must_improve():
    base = {"heldout_loss": None, "probe_match": 0.0, "probe_rouge_l": 0.3}
    assert decide(base, {"heldout_loss": None, "probe_match": 1.0, "probe_rouge_l": 0.8}).promote
    same = decide(base, {"heldout_loss": None, "probe_match": 0.0, "probe_rouge_l": 0.3})
    assert not same.promote
    assert "must improve" in same.reasons[-1]


def test_nothing_measured_is_not_promoted():
    decision = decide({}, {})
    assert not decision.promote
    assert decision.reasons == ["nothing to judge the adapter on (no held-out data, no probes)"]
    assert decision.to_dict()["promote"] is False
