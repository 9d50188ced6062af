"""The eval gate: did the adapter learn the user's facts, and did it keep the rest?

What it judges:

- recall: the user's facts (`select_probes`: rows marked `probe`, i.e. taught pairs and
  corrections, trained and held-out paraphrases alike, up to 64) asked again and answered
  the way users get answers: the GGUF adapter over the quantized base in llama.cpp,
  against the base alone, temperature 0, seed 1. Scores: answer match rate (recall,
  `scores.answer_match`) and mean ROUGE-L F1;
- forgetting: the response-token loss of the base and of the adapter on the general
  held-out set that ships with Cove (`cove.finetune.drift`), from the trainer's "done"
  event (`base_general_loss`, `general_loss`); drift is their difference;
- held-out paraphrases, when the user gave any: their loss (`base_eval_loss`,
  `eval_loss`; `heldout_loss` computes it here for any adapter).

A loss on facts the adapter never saw is not a measure: made-up names cannot be guessed.
The dataset holds out only paraphrases of trained facts for that reason.

`decide` promotes only if the adapter passes every check there is a measure for, and
says why.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cove.finetune.scores import answer_match, rouge_l

Answer = Callable[[list[dict]], str]


def heldout_loss(
    base_dir: Path, rows: Sequence[dict], adapter_dir: Path | None = None
) -> float | None:
    """Mean response-token loss on `rows` of the base, or of the base with a PEFT adapter."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cove.finetune.batches import encode, mean_loss

    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    if adapter_dir is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter_dir)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    encoded = [encode(tokenizer, row) for row in rows]
    return mean_loss(model, [e for e in encoded if e.completion_tokens], pad_id)


def trainer_measures(metrics: dict) -> tuple[dict, dict]:
    """The base's and the adapter's measures from the trainer's "done" event: held-out
    paraphrase loss and general held-out loss (`decide`'s `heldout_loss`, `general_loss`)."""
    base = {
        "heldout_loss": metrics.get("base_eval_loss"),
        "general_loss": metrics.get("base_general_loss"),
    }
    adapter = {
        "heldout_loss": metrics.get("eval_loss"),
        "general_loss": metrics.get("general_loss"),
    }
    return base, adapter


def select_probes(rows: Sequence[dict], max_probes: int = 64, seed: int = 0) -> list[dict]:
    """Up to `max_probes` rows marked as the user's facts, in a seeded, stable order."""
    probes = [row for row in rows if row.get("probe")]

    def order(row: dict) -> str:
        return hashlib.sha256(f"{seed}:{row['id']}".encode()).hexdigest()

    return sorted(probes, key=order)[:max_probes]


def backend_answerer(backend, params) -> Answer:
    """An `Answer` callable over a loaded chat backend (e.g. `LlamaCppBackend`).

    `params` is the runtime's GenerationParams; the gate uses temperature 0 and seed 1.
    """

    def answer(messages: list[dict]) -> str:
        chunks = backend.stream_chat(messages, params, threading.Event())
        return "".join(chunk.text for chunk in chunks).strip()

    return answer


def score_probes(answer: Answer, probes: Sequence[dict]) -> tuple[dict, list[dict]]:
    """Ask every probe (its rendered messages, minus the answer); returns the metrics
    `{"probes", "probe_match", "probe_rouge_l"}` and one result per probe."""
    details = []
    for row in probes:
        text = answer(row["messages"][:-1])
        details.append(
            {
                "id": row["id"],
                "question": row["question"],
                "target": row["target"],
                "answer": text,
                "match": answer_match(text, row["target"], row["question"]),
                "rouge_l": round(rouge_l(text, row["target"]), 4),
            }
        )
    n = len(details)
    metrics = {
        "probes": n,
        "probe_match": sum(d["match"] for d in details) / n if n else None,
        "probe_rouge_l": sum(d["rouge_l"] for d in details) / n if n else None,
    }
    return metrics, details


def compare_on_probes(backend, probes: Sequence[dict], adapter_gguf: Path, params) -> dict:
    """Probe scores of the backend's model alone and with `adapter_gguf`, on one loaded
    llama.cpp backend (`set_adapter`); the backend's previous adapter is put back.

    Returns `{"base": metrics, "adapter": metrics, "details": {"base": [...],
    "adapter": [...]}}`.
    """
    previous = getattr(backend, "adapter", None)
    answer = backend_answerer(backend, params)
    try:
        backend.set_adapter(None)
        base, base_details = score_probes(answer, probes)
        backend.set_adapter(adapter_gguf)
        tuned, tuned_details = score_probes(answer, probes)
    finally:
        backend.set_adapter(Path(previous) if previous else None)
    return {
        "base": base,
        "adapter": tuned,
        "details": {"base": base_details, "adapter": tuned_details},
    }


@dataclass(frozen=True)
class Margins:
    """What the adapter must reach.

    `min_recall`: the share of the user's facts (the probes) it must answer right.
    `min_match_gain` / `min_rouge_gain`: recall and mean ROUGE-L on the probes must rise
    by at least this over the base (0: must not fall). `max_drift`: how much the loss of
    the general held-out set may rise over the base's, in nats per answer token.
    `min_loss_drop`: the loss on held-out paraphrases (when there are any) must fall by at
    least this.
    """

    min_loss_drop: float = 0.05
    min_match_gain: float = 0.0
    min_rouge_gain: float = 0.0
    min_recall: float = 0.75
    max_drift: float = 0.1


@dataclass
class Decision:
    promote: bool
    reasons: list[str]
    checks: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _number(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


EPS = 1e-9


def decide(base: dict, adapter: dict, margins: Margins = Margins()) -> Decision:
    """Promote the adapter only if it passes every check there is a measure for.

    `base` and `adapter` hold `probe_match` (recall: the share of probes answered right),
    `probes`, `probe_rouge_l`, `general_loss` (the general held-out set) and
    `heldout_loss` (held-out paraphrases); None or missing when not measured. Checks:
    recall (at least `min_recall`, and not below the base by more than allowed), ROUGE-L,
    general drift, held-out loss. Recall or the held-out loss must be among them: drift
    alone says nothing learned. A measure asked of the adapter that came out NaN (it
    diverged) fails its check.
    """
    checks: dict[str, dict] = {}
    reasons: list[str] = []
    for check in (_recall, _rouge, _drift, _heldout):
        found = check(base, adapter, margins)
        if found is not None:
            name, result, reason = found
            checks[name] = result
            reasons.append(reason)
    if not {"recall", "heldout_loss"} & set(checks):
        return Decision(False, ["nothing to judge the adapter on (no held-out data, no probes)"])
    return Decision(all(check["passed"] for check in checks.values()), reasons, checks)


def _measured(base: dict, adapter: dict, key: str) -> tuple[float | None, float | None]:
    """The base's and the adapter's `key`; an adapter's NaN (it diverged) is infinity for
    losses, so the check fails rather than vanishes."""
    before, after = _number(base.get(key)), _number(adapter.get(key))
    if before is not None and after is None and adapter.get(key) is not None:
        after = math.inf
    return before, after


def _count(share: float, total) -> str:
    return f"{round(share * total)}/{total}" if isinstance(total, int) and total else "?"


def _recall(base: dict, adapter: dict, margins: Margins):
    before, after = _number(base.get("probe_match")), _number(adapter.get("probe_match"))
    if before is None or after is None:
        return None
    need = max(margins.min_recall, before + margins.min_match_gain)
    passed = after >= need - EPS
    total = adapter.get("probes")
    result = {"base": before, "adapter": after, "required": need, "passed": passed}
    reason = f"recall {_count(after, total)} ({after:.3f}) vs base {_count(before, total)}: " + (
        "good enough" if passed else f"needed >= {need:.3f}"
    )
    return "recall", result, reason


def _rouge(base: dict, adapter: dict, margins: Margins):
    before, after = _number(base.get("probe_rouge_l")), _number(adapter.get("probe_rouge_l"))
    if before is None or after is None:
        return None
    need = before + margins.min_rouge_gain
    passed = after >= need - EPS
    result = {"base": before, "adapter": after, "required": need, "passed": passed}
    reason = f"probe ROUGE-L {after:.3f} vs base {before:.3f}: " + (
        "good enough" if passed else f"needed >= {need:.3f}"
    )
    return "probe_rouge_l", result, reason


def _drift(base: dict, adapter: dict, margins: Margins):
    before, after = _measured(base, adapter, "general_loss")
    if before is None or after is None:
        return None
    drift = after - before
    passed = drift <= margins.max_drift + EPS
    result = {
        "base": before,
        "adapter": after,
        "drift": drift,
        "required": margins.max_drift,
        "passed": passed,
    }
    reason = f"general drift {drift:+.3f} nats/token: " + (
        f"within {margins.max_drift:g}" if passed else f"over {margins.max_drift:g}"
    )
    return "general_drift", result, reason


def _heldout(base: dict, adapter: dict, margins: Margins):
    before, after = _measured(base, adapter, "heldout_loss")
    if before is None or after is None:
        return None
    need = before - margins.min_loss_drop
    passed = after <= need + EPS
    result = {"base": before, "adapter": after, "required": need, "passed": passed}
    reason = f"held-out paraphrase loss {after:.4f} vs base {before:.4f}: " + (
        "lower by the margin" if passed else f"needed <= {need:.4f}"
    )
    return "heldout_loss", result, reason
