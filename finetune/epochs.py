"""What the trainer measures after each epoch, and which weights it keeps (early stopping).

An epoch is `ceil(train rows / batch size)` steps. After each one the trainer asks two
questions of the LoRA weights it has, in torch, on the model it trains:

- how many facts are learned: a fact row (the train rows marked `probe`, else every train
  row) is learned when greedy decoding writes its answer with a margin: teacher-forced,
  every answer token has a probability of at least 2/3 (`LEARNED_TOKEN_LOSS`), so it is
  at least twice as likely as any other token. The margin is for the model users get, the
  GGUF adapter over the quantized base: a name whose least likely token stood at p = 0.5
  (merely the most likely) came out wrong there ("Your cat is called Feline." for Mirelda
  Fosk); with the margin, every fact counted as learned in `bench/learning.py` was
  answered right by the eval gate in llama.cpp;
- once every fact is learned, how far the weights drifted from the base: the drift on a
  fixed spread subset of the general held-out set (`cove.finetune.drift`).

`Keeper` keeps a copy of the best weights: more facts learned is better; at equal facts a
lower loss on them, until all are learned; then less drift (by at least `MIN_DRIFT_GAIN`;
a negative drift counts as none). It says stop once every fact is learned and `patience`
epochs brought nothing better. The adapter saved is the best checkpoint. Both backends use
it (the CPU loop directly, Unsloth through a TrainerCallback).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from cove.finetune.batches import Encoded, RowScore, pooled_loss, row_scores

# Two subset measures of the same weights differ by nothing; two epochs' drifts that differ
# by less than this are the same drift (the subset is small), and the earlier epoch stays.
MIN_DRIFT_GAIN = 0.005
# A learned answer token's largest loss: ln(3/2), a probability of at least 2/3.
LEARNED_TOKEN_LOSS = math.log(1.5)


def learned(score: RowScore) -> bool:
    """Whether greedy decoding writes the row's answer with the margin (module docstring)."""
    return score.greedy and score.tokens > 0 and score.worst <= LEARNED_TOKEN_LOSS


def steps_per_epoch(train_rows: int, batch_size: int) -> int:
    """Steps that show the model every train row about once."""
    return max(1, math.ceil(train_rows / batch_size))


def planned_steps(train_rows: int, batch_size: int, epochs: int) -> int:
    """The step budget of `epochs` epochs: steps follow the data."""
    return steps_per_epoch(train_rows, batch_size) * max(1, epochs)


def fact_rows(rows: Sequence[dict], limit: int = 64) -> list[dict]:
    """The train rows whose learning is measured: the user's facts (`probe`), or every
    row when none is marked; at most `limit`, in file order."""
    probes = [row for row in rows if row.get("probe")]
    return (probes or list(rows))[:limit]


@dataclass
class EpochMeasure:
    """The measures of the weights at the end of one epoch."""

    epoch: int
    step: int
    learned: int
    facts: int
    fact_loss: float | None
    drift: float | None = None

    @property
    def recall(self) -> float:
        return self.learned / self.facts if self.facts else 0.0

    @property
    def all_learned(self) -> bool:
        return self.facts > 0 and self.learned == self.facts

    def to_dict(self) -> dict:
        data = asdict(self)
        data["recall"] = round(self.recall, 4)
        for key in ("fact_loss", "drift"):
            if data[key] is not None:
                data[key] = round(data[key], 5)
        return data


class Measures:
    """The rows measured after each epoch, and the base model's loss on the drift rows.

    `facts`: encoded fact rows; `drift_rows`: the general subset; `base_drift_scores`: the
    base model's scores on them (None: measured on the first call, from the model with its
    adapter switched off).
    """

    def __init__(
        self,
        facts: Sequence[Encoded],
        drift_rows: Sequence[Encoded],
        pad_id: int,
        base_drift_scores: Sequence[RowScore] | None = None,
    ) -> None:
        self.facts = list(facts)
        self.drift_rows = list(drift_rows)
        self.pad_id = pad_id
        self._base_drift = pooled_loss(base_drift_scores) if base_drift_scores else None

    def of_facts(self, model, epoch: int, step: int) -> EpochMeasure:
        scores = row_scores(model, self.facts, self.pad_id)
        return EpochMeasure(
            epoch=epoch,
            step=step,
            learned=sum(learned(score) for score in scores),
            facts=len(scores),
            fact_loss=pooled_loss(scores),
        )

    def drift(self, model) -> float | None:
        """Loss of `model` on the drift rows minus the base's (None without the rows)."""
        if not self.drift_rows:
            return None
        if self._base_drift is None:
            with model.disable_adapter():
                self._base_drift = pooled_loss(row_scores(model, self.drift_rows, self.pad_id))
        tuned = pooled_loss(row_scores(model, self.drift_rows, self.pad_id))
        if tuned is None or self._base_drift is None:
            return None
        return tuned - self._base_drift


def snapshot(model) -> dict:
    """A copy of the trainable (LoRA) weights."""
    return {
        name: param.detach().clone()
        for name, param in model.named_parameters()
        if param.requires_grad
    }


def load_snapshot(model, weights: dict) -> None:
    import torch

    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in weights:
                param.copy_(weights[name])


class Keeper:
    """The best weights seen at the ends of epochs, and when to stop looking."""

    def __init__(self, patience: int, min_drift_gain: float = MIN_DRIFT_GAIN) -> None:
        self.patience = patience
        self.min_drift_gain = min_drift_gain
        self.best: EpochMeasure | None = None
        self.since_best = 0
        self._weights: dict | None = None

    def wants_drift(self, measure: EpochMeasure) -> bool:
        """Whether the drift decides between `measure` and the best: all facts learned."""
        return measure.all_learned

    def better(self, measure: EpochMeasure) -> bool:
        best = self.best
        if best is None:
            return True
        if measure.learned != best.learned:
            return measure.learned > best.learned
        if not measure.all_learned:
            return _below(measure.fact_loss, best.fact_loss, 0.0)
        # Below zero is no drift: with replay the loss on the base's own answers can fall
        # below the base's, and chasing that would train on for nothing.
        return _below(
            _no_less_than_zero(measure.drift), _no_less_than_zero(best.drift), self.min_drift_gain
        )

    def offer(self, measure: EpochMeasure, model) -> bool:
        """Keep the weights if `measure` is the best so far; returns whether it was."""
        if self.better(measure):
            self.best, self.since_best = measure, 0
            self._weights = snapshot(model)
            return True
        self.since_best += 1
        return False

    def should_stop(self) -> bool:
        """Every fact learned, and `patience` epochs since brought nothing better (a
        patience of 0 never stops early)."""
        best = self.best
        return (
            self.patience > 0
            and best is not None
            and best.all_learned
            and self.since_best >= self.patience
        )

    def restore(self, model) -> bool:
        """Put the best weights back into `model`; False when no epoch was measured."""
        if self._weights is None:
            return False
        load_snapshot(model, self._weights)
        return True


def _no_less_than_zero(drift: float | None) -> float | None:
    return None if drift is None else max(drift, 0.0)


def _below(value: float | None, than: float | None, margin: float) -> bool:
    if value is None or than is None:
        return False
    return value < than - margin


def end_epoch(model, measures: Measures, keeper: Keeper, epoch: int, step: int) -> dict:
    """Measure the weights after an epoch, offer them to the keeper; returns the "epoch"
    event's fields."""
    measure = measures.of_facts(model, epoch, step)
    if keeper.wants_drift(measure):
        measure.drift = measures.drift(model)
    improved = keeper.offer(measure, model)
    best = keeper.best
    return {**measure.to_dict(), "improved": improved, "best_epoch": best.epoch if best else None}
