"""Steps follow the data, and early stopping keeps the best checkpoint: more facts learned
wins, then (all learned) less drift; training stops `patience` epochs after the best once
every fact is learned. The weights are a real torch module's."""

from __future__ import annotations

import pytest
import torch

from cove.finetune.batches import RowScore
from cove.finetune.epochs import (
    EpochMeasure,
    Keeper,
    fact_rows,
    learned,
    planned_steps,
    steps_per_epoch,
)


def test_steps_follow_the_data():
    assert steps_per_epoch(4, 4) == 1 and steps_per_epoch(5, 4) == 2
    assert planned_steps(4, 4, 24) == 24  # a handful of facts: one step an epoch
    assert planned_steps(20, 4, 24) == 120
    assert planned_steps(0, 4, 24) == 24


def test_fact_rows_are_the_probes_or_every_row():
    rows = [{"id": 1, "probe": True}, {"id": 2, "probe": False}, {"id": 3, "probe": True}]
    assert [r["id"] for r in fact_rows(rows)] == [1, 3]
    assert [r["id"] for r in fact_rows(rows[1:2])] == [2]  # rated-up answers only
    assert len(fact_rows([{"probe": True}] * 100, limit=64)) == 64


def test_a_fact_is_learned_when_greedy_decoding_writes_it_with_a_margin():
    assert learned(RowScore(loss_sum=0.5, tokens=10, greedy=True, worst=0.3))
    # the most likely token, but a near tie: the quantized model may pick another
    assert not learned(RowScore(loss_sum=0.9, tokens=10, greedy=True, worst=0.69))
    assert not learned(RowScore(loss_sum=0.2, tokens=10, greedy=False, worst=0.2))
    assert not learned(RowScore(loss_sum=0.0, tokens=0, greedy=False, worst=0.0))


def measure(epoch: int, learned: int, facts: int = 4, loss=1.0, drift=None) -> EpochMeasure:
    return EpochMeasure(epoch, epoch, learned, facts, loss, drift)


@pytest.fixture
def weights():
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2)


def train_to(module: torch.nn.Module, value: float) -> None:
    """Stand-in for an epoch of training: the weights change."""
    with torch.no_grad():
        module.weight.fill_(value)


def test_more_facts_learned_is_better_then_a_lower_loss_on_them(weights):
    keeper = Keeper(patience=2)
    assert keeper.offer(measure(1, 0, loss=3.0), weights)
    assert keeper.offer(measure(2, 0, loss=2.0), weights)  # nothing learned yet: progress
    assert not keeper.offer(measure(3, 0, loss=2.5), weights)
    assert keeper.offer(measure(4, 2, loss=2.9), weights)  # more facts beat a lower loss
    assert not keeper.offer(measure(5, 1, loss=0.1), weights)
    assert keeper.best.epoch == 4 and not keeper.should_stop()  # not every fact is learned


def test_once_all_are_learned_less_drift_is_better_and_patience_stops(weights):
    keeper = Keeper(patience=2, min_drift_gain=0.005)
    keeper.offer(measure(1, 3), weights)
    assert not keeper.wants_drift(measure(2, 3))  # drift matters only with every fact
    assert keeper.wants_drift(measure(2, 4))
    assert keeper.offer(measure(2, 4, drift=0.10), weights)
    assert keeper.offer(measure(3, 4, drift=0.08), weights)  # the same facts, less drift
    assert not keeper.offer(measure(4, 4, drift=0.078), weights)  # within the noise
    assert not keeper.should_stop()
    assert not keeper.offer(measure(5, 4, drift=0.12), weights)
    assert keeper.should_stop() and keeper.best.epoch == 3


def test_a_negative_drift_is_no_drift(weights):
    # replay makes the base's own answers likelier than the base does: no reason to go on
    keeper = Keeper(patience=2)
    assert keeper.offer(measure(1, 4, drift=-0.02), weights)
    assert not keeper.offer(measure(2, 4, drift=-0.05), weights)
    assert not keeper.offer(measure(3, 4, drift=-0.09), weights)
    assert keeper.should_stop() and keeper.best.epoch == 1


def test_a_patience_of_zero_never_stops_early(weights):
    keeper = Keeper(patience=0)
    keeper.offer(measure(1, 4, drift=0.1), weights)
    for epoch in range(2, 10):
        keeper.offer(measure(epoch, 4, drift=0.2), weights)
    assert not keeper.should_stop() and keeper.best.epoch == 1


def test_the_best_weights_are_restored(weights):
    keeper = Keeper(patience=1)
    assert not keeper.restore(weights)  # nothing measured yet: the weights stay
    train_to(weights, 1.0)
    keeper.offer(measure(1, 4, drift=0.05), weights)
    train_to(weights, 2.0)
    keeper.offer(measure(2, 4, drift=0.30), weights)
    assert keeper.restore(weights)
    assert torch.all(weights.weight == 1.0)
    assert weights.weight.requires_grad  # still trainable: only the values came back


def test_the_epoch_event_fields():
    fields = measure(3, 3, facts=4, loss=0.123456789, drift=0.0333333).to_dict()
    assert fields == {
        "epoch": 3,
        "step": 3,
        "learned": 3,
        "facts": 4,
        "fact_loss": 0.12346,
        "drift": 0.03333,
        "recall": 0.75,
    }
