"""The eval gate: is the adapter better than the base, by the configured margins?

Two measures, both on the user's data:

- held-out loss (response tokens only) of the base and of the adapter, in torch. The
  trainer reports both in its "done" event (`base_eval_loss`, `eval_loss`) for the
  spec's `eval_path`; `heldout_loss` computes it here for any adapter;
- a probe set of the user's facts (`select_probes`: rows marked `probe`, i.e. taught
  pairs and corrections), answered the way users get answers: the GGUF adapter over the
  quantized base in llama.cpp, against the base alone, temperature 0, seed 1. Scores:
  answer match rate (`scores.answer_match`) and mean ROUGE-L F1.

`decide` promotes only if the adapter wins by the margins, and says why.
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


def select_probes(rows: Sequence[dict], max_probes: int = 16, seed: int = 0) -> list[dict]:
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
    """How much the adapter must win by.

    `min_loss_drop`: the held-out loss (nats per answer token) must fall by at least
    this. `min_match_gain` / `min_rouge_gain`: the probe answer-match rate and mean
    ROUGE-L must rise by at least this (0: must not get worse).
    """

    min_loss_drop: float = 0.05
    min_match_gain: float = 0.0
    min_rouge_gain: float = 0.0


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


def decide(base: dict, adapter: dict, margins: Margins = Margins()) -> Decision:
    """Promote the adapter only if it wins by `margins` on every measure there is.

    `base` and `adapter` hold `heldout_loss`, `probe_match`, `probe_rouge_l` (None or
    missing when not measured). Without a held-out loss (a one-example dataset), the
    probes must strictly improve. Nothing measured at all: not promoted.
    """
    eps = 1e-9
    checks: dict[str, dict] = {}
    reasons: list[str] = []
    base_loss, tuned_loss = _number(base.get("heldout_loss")), _number(adapter.get("heldout_loss"))
    if base_loss is not None and "heldout_loss" in adapter and tuned_loss is None:
        tuned_loss = math.inf  # the adapter's loss was asked for and is NaN: it diverged
    if base_loss is not None and tuned_loss is not None:
        need = base_loss - margins.min_loss_drop
        passed = tuned_loss <= need + eps
        checks["heldout_loss"] = {
            "base": base_loss,
            "adapter": tuned_loss,
            "required": need,
            "passed": passed,
        }
        reasons.append(
            f"held-out loss {tuned_loss:.4f} vs base {base_loss:.4f}: "
            + ("lower by the margin" if passed else f"needed <= {need:.4f}")
        )
    for name, gain, label in (
        ("probe_match", margins.min_match_gain, "probe answer match"),
        ("probe_rouge_l", margins.min_rouge_gain, "probe ROUGE-L"),
    ):
        before, after = _number(base.get(name)), _number(adapter.get(name))
        if before is None or after is None:
            continue
        need = before + gain
        passed = after >= need - eps
        checks[name] = {"base": before, "adapter": after, "required": need, "passed": passed}
        reasons.append(
            f"{label} {after:.3f} vs base {before:.3f}: "
            + ("good enough" if passed else f"needed >= {need:.3f}")
        )
    if not checks:
        return Decision(False, ["nothing to judge the adapter on (no held-out data, no probes)"])
    promote = all(check["passed"] for check in checks.values())
    if promote and "heldout_loss" not in checks:
        strictly = any(c["adapter"] > c["base"] + eps for c in checks.values())
        if not strictly:
            promote = False
            reasons.append("no held-out loss: the probes must improve, and they did not")
    return Decision(promote, reasons, checks)
