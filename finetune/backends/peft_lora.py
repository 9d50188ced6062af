"""LoRA with transformers + peft and a plain torch loop: the CPU path (no GPU needed).

A hand-written loop rather than transformers' Trainer: on a 2-core CPU the step itself is
all the cost, and the loop computes logits only at the answer tokens (`batch_loss`),
which Trainer's loss does not.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from cove.finetune.backends.checks import RunChecks
from cove.finetune.batches import Encoded, batch_loss, collate, encode, mean_loss
from cove.finetune.dataset import read_rows
from cove.finetune.spec import TrainSpec


def linear_targets(model) -> list[str]:
    """Names of the model's linear projections, embeddings and lm_head excluded."""
    import torch

    skip = {id(model.get_output_embeddings())}
    names = set()
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and id(module) not in skip:
            leaf = name.rsplit(".", 1)[-1]
            if leaf != "lm_head":
                names.add(leaf)
    return sorted(names)


def lora_config(spec: TrainSpec, model):
    from peft import LoraConfig

    return LoraConfig(
        r=spec.r,
        lora_alpha=spec.alpha,
        lora_dropout=spec.dropout,
        target_modules=spec.target_modules or linear_targets(model),
        use_rslora=False,  # llama.cpp scales adapters by alpha/r
        bias="none",
        task_type="CAUSAL_LM",
    )


def load_rows(tokenizer, path: str | None, max_tokens: int) -> list[Encoded]:
    if not path:
        return []
    encoded = [encode(tokenizer, row, max_tokens) for row in read_rows(Path(path))]
    return [item for item in encoded if item.completion_tokens]


def batches(count: int, batch_size: int, seed: int):
    """Endless batches of indices: shuffled epochs, seeded."""
    rng = random.Random(seed)
    pool: list[int] = []
    while True:
        while len(pool) < batch_size:
            epoch = list(range(count))
            rng.shuffle(epoch)
            pool += epoch
        yield pool[:batch_size]
        pool = pool[batch_size:]


def lr_factor(step: int, steps: int, warmup: int) -> float:
    """Linear warm-up, then linear decay to a tenth of the rate."""
    if step < warmup:
        return (step + 1) / warmup
    left = (steps - step) / max(1, steps - warmup)
    return 0.1 + 0.9 * max(0.0, left)


def pick_device(spec: TrainSpec) -> str:
    """cpu, or cuda when asked for or (auto) available."""
    import torch

    if spec.device == "cuda" or (spec.device == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' was asked for, but CUDA is not available")
        return "cuda"
    return "cpu"


def load_model(spec: TrainSpec, device: str):
    """The base model on `device`: fp32, or 4-bit through bitsandbytes (QLoRA, CUDA only)."""
    import torch
    from transformers import AutoModelForCausalLM

    if not spec.load_in_4bit:
        model = AutoModelForCausalLM.from_pretrained(spec.base_dir, dtype=torch.float32)
        return model.to(device)
    if device != "cuda":
        raise RuntimeError("load_in_4bit needs CUDA (bitsandbytes)")
    from peft import prepare_model_for_kbit_training
    from transformers import BitsAndBytesConfig

    quant = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=torch.bfloat16,
    )
    model = AutoModelForCausalLM.from_pretrained(
        spec.base_dir, quantization_config=quant, device_map={"": device}
    )
    return prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)


@dataclass
class TrainData:
    """The user's rows to learn, and the replay rows that keep the model as it was."""

    rows: list[Encoded]
    replay: list[Encoded]


def train(spec: TrainSpec, run) -> dict:
    """Train a LoRA adapter per `spec`, reporting through `run`; returns the metrics.

    The adapter saved is the best checkpoint of the epochs (`RunChecks`); the held-out
    and general-set losses are of those weights.
    """
    import torch
    from peft import get_peft_model
    from transformers import AutoTokenizer

    torch.manual_seed(spec.seed)
    tokenizer = AutoTokenizer.from_pretrained(spec.base_dir)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    train_rows = load_rows(tokenizer, spec.train_path, spec.max_tokens)
    if not train_rows:
        raise ValueError(f"no training examples in {spec.train_path}")
    eval_rows = load_rows(tokenizer, spec.eval_path, spec.max_tokens)
    device = pick_device(spec)
    base = load_model(spec, device)
    model = get_peft_model(base, lora_config(spec, base))
    # A fresh LoRA adapter is the identity (B = 0): this is the base model's loss.
    base_eval_loss = mean_loss(model, eval_rows, pad_id)
    variant = f"{'4-bit' if spec.load_in_4bit else 'fp32'} {device}"
    checks = RunChecks(spec, tokenizer, pad_id, len(train_rows), variant)
    replay = load_rows(tokenizer, spec.replay_path, spec.max_tokens) if spec.replay_rows else []
    data = TrainData(train_rows, replay)
    run.emit(
        "loaded",
        examples=len(train_rows),
        eval_examples=len(eval_rows),
        general_examples=len(checks.general),
        replay_examples=len(replay),
        steps_per_epoch=checks.per_epoch,
    )
    loop = _optimize(spec, run, model, data, pad_id, device, checks)
    steps_done = len(loop["losses"])
    adapter_dir = None
    if steps_done:
        checks.restore_best(model)
        model.save_pretrained(spec.adapter_dir)
        adapter_dir = str(spec.adapter_dir)
    losses = loop["losses"]
    tail = losses[-max(1, min(5, steps_done)) :]
    gpu = {}
    if device == "cuda":
        gpu["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    train_seconds = loop["train_seconds"]
    return {
        "adapter_dir": adapter_dir,
        "steps_done": steps_done,
        "stopped": loop["stopped"],
        "train_loss": sum(tail) / len(tail) if losses else None,
        "eval_loss": mean_loss(model, eval_rows, pad_id) if steps_done else base_eval_loss,
        "base_eval_loss": base_eval_loss,
        "tokens": loop["tokens"],
        "tokens_per_s": round(loop["tokens"] / train_seconds, 1) if train_seconds else None,
        "train_seconds": round(train_seconds, 2),
        "check_seconds": round(loop["check_seconds"], 2),
        **(checks.summary(model) if steps_done else {}),
        **gpu,
    }


def _mean_loss(model, items: list[Encoded], pad_id: int, device):
    """The mean answer-token loss of a batch (a tensor to backpropagate) and its tokens."""
    ids, mask, labels = (t.to(device) for t in collate(items, pad_id))
    loss_sum, count = batch_loss(model, ids, mask, labels)
    return loss_sum / max(1, count), int(mask.sum())


def _optimize(spec: TrainSpec, run, model, data: TrainData, pad_id, device, checks) -> dict:
    """The training steps: AdamW, warm-up then linear decay, the epoch checks after each
    epoch. Each step learns a batch of the user's rows plus `spec.replay_rows` rows of the
    replay set, each part's loss a mean over its own answer tokens, so the facts weigh the
    same whatever the length of the model's general answers. Returns the step losses (of
    the user's rows), tokens seen, why it stopped early, and the time."""
    import torch

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=spec.learning_rate, weight_decay=0.0)
    model.train()
    losses: list[float] = []
    tokens = 0
    started = time.monotonic()
    checking = 0.0  # time in the epoch checks, not training
    stopped = None
    order = batches(len(data.rows), spec.batch_size, spec.seed)
    replay = batches(len(data.replay), spec.replay_rows, spec.seed + 1) if data.replay else None
    for step in range(spec.steps):
        stopped = run.should_stop()
        if stopped:
            break
        step_started = time.monotonic()
        for group in optimizer.param_groups:
            group["lr"] = spec.learning_rate * lr_factor(step, spec.steps, spec.warmup_steps)
        loss, seen = _mean_loss(model, [data.rows[i] for i in next(order)], pad_id, device)
        total = loss
        if replay is not None:
            anchor, anchor_seen = _mean_loss(
                model, [data.replay[i] for i in next(replay)], pad_id, device
            )
            total, seen = loss + anchor, seen + anchor_seen
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(loss))
        tokens += seen
        run.step_done(step + 1, spec.steps, losses[-1], tokens, time.monotonic() - step_started)
        if checks.epoch_ends(step + 1):
            check_started = time.monotonic()
            done = checks.end_epoch(model, step + 1, run)
            checking += time.monotonic() - check_started
            if done:
                break
    return {
        "losses": losses,
        "tokens": tokens,
        "stopped": stopped,
        "train_seconds": time.monotonic() - started - checking,
        "check_seconds": checking,
    }
