"""What both training backends measure besides their training loss, set up from the spec:
the facts and the drift after each epoch (`cove.finetune.epochs`), the best checkpoint,
and at the end the drift on the whole general set (`cove.finetune.drift`)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from cove.finetune.base import base_fingerprint
from cove.finetune.batches import Encoded, encode, pooled_loss, row_scores
from cove.finetune.dataset import read_rows
from cove.finetune.drift import (
    read_cached_scores,
    rows_digest,
    spread_subset,
    write_cached_scores,
)
from cove.finetune.epochs import Keeper, Measures, end_epoch, fact_rows, steps_per_epoch
from cove.finetune.spec import TrainSpec


class RunChecks:
    """The epoch measures, the keeper of the best weights and the general set of one run.

    `variant` names how the base is loaded ("fp32 cpu", "4-bit cuda"): the cached base
    scores are only reused for the same weights loaded the same way.
    """

    def __init__(
        self, spec: TrainSpec, tokenizer, pad_id: int, train_rows: int, variant: str
    ) -> None:
        self.spec = spec
        self.pad_id = pad_id
        self.per_epoch = steps_per_epoch(train_rows, spec.batch_size)
        facts = fact_rows(read_rows(Path(spec.train_path)), spec.max_fact_rows)
        general = read_rows(Path(spec.general_path)) if spec.general_path else []
        if spec.general_rows:
            general = [general[i] for i in spread_subset(general, spec.general_rows)]
        self.general: list[Encoded] = [encode(tokenizer, row, spec.max_tokens) for row in general]
        self.cache = Path(spec.base_loss_cache) if spec.base_loss_cache else None
        self.cache_key = _cache_key(Path(spec.base_dir), general, variant)
        self.base_scores = read_cached_scores(self.cache, self.cache_key) if general else None
        subset = spread_subset(general, spec.drift_rows)
        cached = [self.base_scores[i] for i in subset] if self.base_scores else None
        self.measures = Measures(
            [encode(tokenizer, row, spec.max_tokens) for row in facts],
            [self.general[i] for i in subset],
            pad_id,
            cached,
        )
        self.keeper = Keeper(spec.patience)
        self.epochs: list[dict] = []
        self.stopped_early: str | None = None

    def epoch_ends(self, step: int) -> bool:
        """Whether step `step` (1-based) closes an epoch, or is the last step."""
        return step % self.per_epoch == 0 or step == self.spec.steps

    def end_epoch(self, model, step: int, run) -> bool:
        """Measure and offer the weights, emit the "epoch" event; returns whether to stop."""
        epoch = -(-step // self.per_epoch)
        event = end_epoch(model, self.measures, self.keeper, epoch, step)
        event.update(steps=self.spec.steps, epochs=-(-self.spec.steps // self.per_epoch))
        self.epochs.append(event)
        run.emit("epoch", **event)
        if self.keeper.should_stop() and step < self.spec.steps:
            patience = self.keeper.patience
            self.stopped_early = f"every fact learned; no better epoch in the {patience} after"
        return self.stopped_early is not None

    def early_stop(self) -> str | None:
        """Why training ended before its budget, or None when it did not."""
        return self.stopped_early

    def restore_best(self, model) -> None:
        self.keeper.restore(model)

    def summary(self, model) -> dict:
        """The run's epoch measures, the best epoch, and the drift on the whole general set
        of `model` (the best weights, restored before)."""
        best = self.keeper.best
        return {
            "epochs": self.epochs,
            "best_epoch": best.epoch if best else None,
            "best_step": best.step if best else None,
            "early_stop": self.early_stop(),
            **self.general_drift(model),
        }

    def general_drift(self, model) -> dict:
        """`{"general_loss", "base_general_loss", "general_drift", "general_examples"}` of
        `model` on the whole general set (the base's scores from the cache, else measured
        with the adapter switched off, then cached)."""
        if not self.general:
            return {"general_loss": None, "base_general_loss": None, "general_drift": None}
        if self.base_scores is None:
            with model.disable_adapter():
                self.base_scores = row_scores(model, self.general, self.pad_id)
            write_cached_scores(self.cache, self.cache_key, self.base_scores)
        tuned = pooled_loss(row_scores(model, self.general, self.pad_id))
        base = pooled_loss(self.base_scores)
        drift = tuned - base if tuned is not None and base is not None else None
        return {
            "general_loss": tuned,
            "base_general_loss": base,
            "general_drift": drift,
            "general_examples": len(self.general),
        }


def _cache_key(base_dir: Path, rows: list[dict], variant: str) -> str:
    key = [base_fingerprint(base_dir), rows_digest(rows), variant]
    return hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]
