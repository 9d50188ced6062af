"""Training speed of personal fine-tuning, measured in one run.

CPU (always):
  - the product path: the trainer subprocess (peft LoRA, r=8, alpha=16, all linear
    projections), as the daemon launches it: tokens/s, peak RSS (getrusage in the child);
  - in this process, the same LoRA steps with the loss computed the way the CPU trainer
    does it (logits only at answer tokens) against the plain transformers loss (logits at
    every position, `model(labels=...)`), alternating, same batches: the ratio.
CUDA (only with a GPU): Unsloth QLoRA against plain transformers + peft QLoRA
  (bitsandbytes 4-bit), same spec (steps, batch, r, alpha, lr, data): tokens/s, ratio,
  peak GPU memory (torch.cuda.max_memory_allocated in each child).

Tokens are every non-padding token processed (prompt and answer). Writes bench/train.json.
Usage: python bench/train.py [--steps 12] [--threads N] [--base HF_DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

# As in the trainer subprocess: idle OpenMP threads sleep instead of spinning (on a busy
# machine spinning threads stall each other; see finetune/train_run.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cove.daemon.answer.grounding import GENERAL_SYSTEM_PROMPT  # noqa: E402
from cove.daemon.runtime.models import default_gguf  # noqa: E402
from cove.finetune.base import prepare_base  # noqa: E402
from cove.finetune.dataset import Example, build_dataset, write_dataset  # noqa: E402
from cove.finetune.spec import TrainSpec  # noqa: E402
from cove.finetune.trainer import run_training  # noqa: E402

BATCH, R, ALPHA, LR = 4, 8, 16, 1e-3


def bench_examples(count: int = 32) -> list[Example]:
    """Made-up personal facts, one per question (deterministic)."""
    colours = ["red", "teal", "amber", "violet", "olive", "navy", "coral", "ivory"]
    return [
        Example(
            [{"role": "user", "content": f"What is the code of locker {n}?"}],
            f"Locker {n} has the {colours[n % 8]} padlock; its code is {1000 + 37 * n}.",
            "teach",
        )
        for n in range(count)
    ]


def subprocess_run(spec: TrainSpec) -> dict:
    events: list[dict] = []
    result = run_training(spec, events.append)
    if not result.ok:
        raise SystemExit(f"training failed: {result.message}")
    keep = ("backend", "steps_done", "tokens", "tokens_per_s", "train_seconds")
    figures = {k: result.metrics.get(k) for k in keep}
    figures["device"] = next(e["device"] for e in events if e["event"] == "start")
    figures["peak_rss_mb"] = result.metrics.get("peak_rss_mb")
    if "peak_gpu_mb" in result.metrics:
        figures["peak_gpu_mb"] = result.metrics["peak_gpu_mb"]
    return figures


def in_process_ratio(base: Path, train_path: Path, steps: int, threads: int) -> dict:
    """Answer-only logits (the CPU trainer's loss) against full logits, same batches."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from cove.finetune.backends.peft_lora import batches, load_rows, lora_config
    from cove.finetune.batches import batch_loss, collate

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    spec = TrainSpec(
        base_dir=str(base), train_path=str(train_path), output_dir="", r=R, alpha=ALPHA
    )
    tokenizer = AutoTokenizer.from_pretrained(base)
    rows = load_rows(tokenizer, str(train_path), 1024)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    model = get_peft_model(model, lora_config(spec, model))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=LR)
    pad = tokenizer.pad_token_id or 0
    seconds = {"answer_logits": 0.0, "full_logits": 0.0}
    tokens = 0
    order = batches(len(rows), BATCH, 0)
    for _ in range(steps):
        ids, mask, labels = collate([rows[i] for i in next(order)], pad)
        tokens += int(mask.sum())
        for how in seconds:  # alternate, so load changes on the machine hit both alike
            start = time.perf_counter()
            if how == "answer_logits":
                total, count = batch_loss(model, ids, mask, labels)
                loss = total / count
            else:
                loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            optimizer.zero_grad(set_to_none=True)  # no step: both variants see equal weights
            seconds[how] += time.perf_counter() - start
    speeds = {how: tokens / s for how, s in seconds.items()}
    return {
        "steps": steps,
        "tokens": tokens,
        "tokens_per_s": {how: round(v, 1) for how, v in speeds.items()},
        "answer_logits_speedup": round(speeds["answer_logits"] / speeds["full_logits"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--base", type=Path, default=None, help="an HF base dir to reuse")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "train.json")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="cove-bench-train-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        base = args.base or prepare_base(default_gguf(), work / "base")
        base_seconds = time.perf_counter() - started
        from transformers import AutoTokenizer

        dataset = build_dataset(
            AutoTokenizer.from_pretrained(base),
            extra=bench_examples(),
            system=GENERAL_SYSTEM_PROMPT,
            heldout_fraction=0.0,
        )
        paths = write_dataset(dataset, work / "data")

        def spec(name: str, **extra) -> TrainSpec:
            return TrainSpec(
                base_dir=str(base),
                train_path=str(paths["train"]),
                output_dir=str(work / name),
                steps=args.steps,
                batch_size=BATCH,
                learning_rate=LR,
                r=R,
                alpha=ALPHA,
                threads=args.threads,
                nice=0,
                **extra,
            )

        report: dict = {
            "model": default_gguf().name,
            "threads": args.threads,
            "batch_size": BATCH,
            "r": R,
            "alpha": ALPHA,
            "examples": dataset.stats["examples"],
            "mean_tokens_per_example": dataset.stats["tokens"]["mean"],
            "load_avg_1m_before": round(os.getloadavg()[0], 2),
            "base_conversion_s": None if args.base else round(base_seconds, 1),
        }
        report["cpu_subprocess"] = subprocess_run(spec("cpu", backend="peft", device="cpu"))
        report["cpu_in_process"] = in_process_ratio(base, paths["train"], args.steps, args.threads)
        report["peak_rss_mb_this_process"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1
        )
        report["cuda"] = cuda_comparison(spec) if cuda_available() else None
        report["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def cuda_comparison(spec) -> dict:
    """Unsloth QLoRA against plain transformers + peft QLoRA, same spec, one run each."""
    unsloth = subprocess_run(spec("unsloth", backend="unsloth"))
    plain = subprocess_run(spec("peft-cuda", backend="peft", device="cuda", load_in_4bit=True))
    return {
        "unsloth": unsloth,
        "peft_4bit": plain,
        "unsloth_speedup": round(unsloth["tokens_per_s"] / plain["tokens_per_s"], 3),
    }


if __name__ == "__main__":
    main()
