"""QLoRA with Unsloth on a CUDA GPU: 4-bit base, TRL's SFTTrainer, loss on responses only.

Unsloth cannot even be imported without a GPU, so it is imported inside `train` only,
after the caller checked `torch.cuda.is_available()`. The adapter it saves is a plain
PEFT adapter: the same export and eval gate follow as for the CPU path.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path

from cove.finetune.backends.peft_lora import linear_targets, load_rows
from cove.finetune.batches import mean_loss
from cove.finetune.dataset import read_rows
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


def _safe_loss(model, rows, pad_id: int) -> float | None:
    """The held-out loss, or None if it cannot be computed on this model: the gate then
    judges on the probes alone, and the trained adapter is not lost."""
    try:
        return mean_loss(model, rows, pad_id)
    except Exception:
        traceback.print_exc()
        return None


def train(spec: TrainSpec, run) -> dict:
    """Train a QLoRA adapter with Unsloth per `spec`; same result fields as peft_lora."""
    # Unsloth patches transformers and TRL when imported: it comes first.
    from unsloth import FastLanguageModel, is_bfloat16_supported
    from unsloth.chat_templates import train_on_responses_only

    # isort: split
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
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
    texts = [sft_text(row, tokenizer.eos_token) for row in rows]
    mean_tokens = sum(row["tokens"] for row in rows) / len(rows)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    eval_rows = load_rows(tokenizer, spec.eval_path, spec.max_tokens)
    base_eval_loss = _safe_loss(model, eval_rows, pad_id)  # fresh adapter = the base
    run.emit("loaded", examples=len(rows), eval_examples=len(eval_rows))

    losses: list[float] = []
    state = {"stopped": None, "step_started": time.monotonic()}

    class Progress(TrainerCallback):
        """Progress from the step's log (Trainer logs after on_step_end); stop checks at
        the end of each step."""

        def on_step_begin(self, args, trainer_state, control, **kwargs):
            state["step_started"] = time.monotonic()

        def on_step_end(self, args, trainer_state, control, **kwargs):
            state["step_s"] = time.monotonic() - state["step_started"]
            reason = run.should_stop()
            if reason:
                state["stopped"] = reason
                control.should_training_stop = True

        def on_log(self, args, trainer_state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs:
                return
            losses.append(float(logs["loss"]))
            step = trainer_state.global_step
            tokens = int(step * spec.batch_size * mean_tokens)  # estimate: mean row length
            run.step_done(step, spec.steps, losses[-1], tokens, state.get("step_s", 0.0))

    bf16 = is_bfloat16_supported()
    trainer = SFTTrainer(
        model=model,
        processing_class=tokenizer,
        train_dataset=Dataset.from_dict({"text": texts}),
        callbacks=[Progress()],
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
        model.save_pretrained(str(spec.adapter_dir))
        adapter_dir = str(spec.adapter_dir)
    tokens = int(steps_done * spec.batch_size * mean_tokens)
    tail = losses[-max(1, min(5, len(losses))) :]
    torch.cuda.synchronize()
    return {
        "adapter_dir": adapter_dir,
        "steps_done": steps_done,
        "stopped": state["stopped"],
        "train_loss": sum(tail) / len(tail) if tail else None,
        "eval_loss": _safe_loss(model, eval_rows, pad_id) if steps_done else base_eval_loss,
        "base_eval_loss": base_eval_loss,
        "tokens": tokens,
        "tokens_per_s": round(tokens / train_seconds, 1) if train_seconds else None,
        "train_seconds": round(train_seconds, 2),
        "peak_gpu_mb": round(torch.cuda.max_memory_allocated() / 2**20, 1),
    }
