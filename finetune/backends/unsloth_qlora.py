"""QLoRA with Unsloth on a CUDA GPU: 4-bit base, TRL's SFTTrainer, loss on responses only.

Unsloth cannot even be imported without a GPU, so it is imported inside `train` only,
after the caller checked `torch.cuda.is_available()`. The adapter it saves is a plain
PEFT adapter: the same export and eval gate follow as for the CPU path, and the same
epoch checks pick the checkpoint (`RunChecks`, through `progress_callback`).
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from cove.finetune.backends.checks import RunChecks
from cove.finetune.backends.peft_lora import linear_targets, load_rows
from cove.finetune.batches import mean_loss
from cove.finetune.dataset import read_rows
from cove.finetune.epochs import steps_per_epoch
from cove.finetune.spec import TrainSpec


def _between(text: str, start: str, end: str) -> str:
    i = text.index(start) + len(start)
    return text[i : text.index(end, i)]


def template_parts(tokenizer) -> tuple[str, str]:
    """The text that opens a user turn and an assistant turn in the chat template.

    Found by rendering sentinel messages, so any template works: the assistant opener
    is what `add_generation_prompt` adds; the user opener is what lies between a system
    message and the user's text, minus the end-of-turn text that closes every message.
    For ChatML: ("<|im_start|>user\\n", "<|im_start|>assistant\\n").
    """
    user = [{"role": "user", "content": "QQQQ"}]
    plain = tokenizer.apply_chat_template(user, tokenize=False)
    prompted = tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
    if not prompted.startswith(plain):
        raise ValueError("the chat template's generation prompt is not a suffix")
    response_part = prompted[len(plain) :]
    turn = tokenizer.apply_chat_template(
        [{"role": "system", "content": "SSSS"}, *user], tokenize=False
    )
    closing = plain[plain.index("QQQQ") + 4 :]  # what ends every message
    instruction_part = _between(turn, "SSSS", "QQQQ")
    if closing and instruction_part.startswith(closing):
        instruction_part = instruction_part[len(closing) :]
    if not response_part.strip() or not instruction_part.strip():
        raise ValueError("could not find the user and assistant markers of the chat template")
    return instruction_part, response_part


def sft_text(row: dict, eos_token: str | None) -> str:
    """The row's chat text for TRL. A final newline after the end-of-turn token is
    dropped, so TRL, which appends EOS to text not ending with it, adds nothing."""
    text = row["prompt"] + row["completion"]
    if eos_token and text.endswith(eos_token + "\n"):
        text = text[:-1]
    return text


def replay_share(rows: list[dict], spec: TrainSpec) -> list[dict]:
    """The replay rows that join the user's `rows` in SFTTrainer's dataset: as many as the
    CPU path mixes into one epoch (`replay_rows` a step), taken in turn from the set.

    SFTTrainer averages the loss over all answer tokens of a batch, so here the replay
    rows weigh by their length; the CPU path weighs both parts equally.
    """
    if not spec.replay_path or not spec.replay_rows:
        return []
    pool = read_rows(Path(spec.replay_path))
    wanted = steps_per_epoch(len(rows), spec.batch_size) * spec.replay_rows
    return [pool[i % len(pool)] for i in range(wanted)] if pool else []


def _safe(measure, default=None):
    """`measure()`, or `default` if it cannot be computed on this model (traceback on
    stderr): the gate then judges on what there is, and the trained adapter is not lost."""
    try:
        return measure()
    except Exception:
        traceback.print_exc()
        return default


def progress_callback(spec: TrainSpec, run, checks: RunChecks, model, mean_tokens: float):
    """The TrainerCallback that reports steps through `run`, runs the epoch checks at the
    end of each epoch (stopping early as they say) and stops at the end of the window.

    Its `losses` and `state` ("stopped", "step_s") are read after training. An epoch check
    that fails on this model turns the checks off and training goes on.
    """
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        """Progress from the step's log (Trainer logs after on_step_end); checks and stop
        requests at the end of each step."""

        def __init__(self) -> None:
            self.losses: list[float] = []
            self.state: dict = {"stopped": None, "step_started": time.monotonic()}
            self.checking = True

        def on_step_begin(self, args, trainer_state, control, **kwargs):
            self.state["step_started"] = time.monotonic()

        def on_step_end(self, args, trainer_state, control, **kwargs):
            self.state["step_s"] = time.monotonic() - self.state["step_started"]
            step = trainer_state.global_step
            if self.checking and checks.epoch_ends(step) and self._check(step):
                control.should_training_stop = True
                return
            reason = run.should_stop()
            if reason:
                self.state["stopped"] = reason
                control.should_training_stop = True

        def _check(self, step: int) -> bool:
            try:
                return checks.end_epoch(model, step, run)
            except Exception:  # this model cannot be measured: train on without the checks
                traceback.print_exc()
                self.checking = False
                return False

        def on_log(self, args, trainer_state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs:
                return
            self.losses.append(float(logs["loss"]))
            step = trainer_state.global_step
            tokens = int(step * spec.batch_size * mean_tokens)  # estimate: mean row length
            run.step_done(step, spec.steps, self.losses[-1], tokens, self.state.get("step_s", 0))

    return Progress()


def train(spec: TrainSpec, run) -> dict:
    """Train a QLoRA adapter with Unsloth per `spec`; same result fields as peft_lora."""
    # Unsloth patches transformers and TRL when imported: it comes first.
    from unsloth import FastLanguageModel, is_bfloat16_supported
    from unsloth.chat_templates import train_on_responses_only

    # isort: split
    import torch
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=spec.base_dir,
        max_seq_length=spec.max_tokens,
        load_in_4bit=True,
        dtype=None,
    )
    model = FastLanguageModel.get_peft_model(
        model,
        r=spec.r,
        lora_alpha=spec.alpha,
        lora_dropout=spec.dropout,
        target_modules=spec.target_modules or linear_targets(model),
        bias="none",
        use_rslora=False,  # llama.cpp scales adapters by alpha/r
        use_gradient_checkpointing="unsloth",
        random_state=spec.seed,
    )
    rows = read_rows(Path(spec.train_path))
    if not rows:
        raise ValueError(f"no training examples in {spec.train_path}")
    replay = replay_share(rows, spec)
    texts = [sft_text(row, tokenizer.eos_token) for row in rows + replay]
    mean_tokens = sum(row["tokens"] for row in rows + replay) / len(texts)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    eval_rows = load_rows(tokenizer, spec.eval_path, spec.max_tokens)
    base_eval_loss = _safe(lambda: mean_loss(model, eval_rows, pad_id))  # fresh adapter = base
    # An epoch of SFTTrainer is a pass over the user's rows and their replay rows together.
    checks = RunChecks(spec, tokenizer, pad_id, len(texts), "4-bit cuda unsloth")
    run.emit(
        "loaded",
        examples=len(rows),
        eval_examples=len(eval_rows),
        general_examples=len(checks.general),
        replay_examples=len(replay),
        steps_per_epoch=checks.per_epoch,
    )
    progress = progress_callback(spec, run, checks, model, mean_tokens)

    bf16 = is_bfloat16_supported()
    trainer = SFTTrainer(
        model=model,
        processing_class=tokenizer,
        train_dataset=Dataset.from_dict({"text": texts}),
        callbacks=[progress],
        args=SFTConfig(
            dataset_text_field="text",
            max_length=spec.max_tokens,
            per_device_train_batch_size=spec.batch_size,
            gradient_accumulation_steps=1,
            max_steps=spec.steps,
            learning_rate=spec.learning_rate,
            warmup_steps=spec.warmup_steps,
            lr_scheduler_type="linear",
            optim="adamw_8bit",
            bf16=bf16,
            fp16=not bf16,
            logging_steps=1,
            save_strategy="no",
            report_to="none",
            seed=spec.seed,
            output_dir=str(Path(spec.output_dir) / "trainer"),
        ),
    )
    instruction_part, response_part = template_parts(tokenizer)
    trainer = train_on_responses_only(
        trainer, instruction_part=instruction_part, response_part=response_part
    )
    started = time.monotonic()
    output = trainer.train()
    train_seconds = time.monotonic() - started
    steps_done = int(output.global_step)
    adapter_dir = None
    if steps_done:
        checks.restore_best(model)
        model.save_pretrained(str(spec.adapter_dir))
        adapter_dir = str(spec.adapter_dir)
    tokens = int(steps_done * spec.batch_size * mean_tokens)
    losses = progress.losses
    tail = losses[-max(1, min(5, len(losses))) :]
    torch.cuda.synchronize()
    eval_loss = _safe(lambda: mean_loss(model, eval_rows, pad_id)) if steps_done else None
    return {
        "adapter_dir": adapter_dir,
        "steps_done": steps_done,
        "stopped": progress.state["stopped"],
        "train_loss": sum(tail) / len(tail) if tail else None,
        "eval_loss": eval_loss if steps_done else base_eval_loss,
        "base_eval_loss": base_eval_loss,
        "tokens": tokens,
        "tokens_per_s": round(tokens / train_seconds, 1) if train_seconds else None,
        "train_seconds": round(train_seconds, 2),
        **(_safe(lambda: checks.summary(model), default={}) if steps_done else {}),
        "peak_gpu_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1),
    }
