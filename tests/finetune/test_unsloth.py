"""The CUDA path: Unsloth QLoRA through the same subprocess, spec and events. Marked gpu
and skipped without CUDA; the chat-template markers it needs are checked everywhere."""

from __future__ import annotations

import pytest

from cove.finetune.backends.unsloth_qlora import sft_text, template_parts
from cove.finetune.spec import TrainSpec
from cove.finetune.trainer import run_training


def test_template_markers_for_responses_only_training(tokenizer):
    assert template_parts(tokenizer) == ("<|im_start|>user\n", "<|im_start|>assistant\n")


def test_sft_text_ends_with_the_end_of_turn_token(tokenizer, facts_data):
    row = facts_data.dataset.train[0]
    text = sft_text(row, tokenizer.eos_token)
    assert text.endswith(row["target"] + "<|im_end|>")  # TRL appends no second EOS
    assert text.startswith(row["prompt"])


@pytest.mark.gpu
def test_unsloth_trains_an_adapter_the_gate_can_judge(tmp_path, hf_base, facts_data):
    pytest.importorskip("unsloth", reason="the gpu extra (unsloth, trl) is not installed")
    events: list[dict] = []
    spec = TrainSpec(
        base_dir=str(hf_base),
        train_path=str(facts_data.paths["train"]),
        eval_path=str(facts_data.paths["heldout"]),
        output_dir=str(tmp_path / "run"),
        steps=30,
        learning_rate=1e-3,
        backend="unsloth",
        nice=0,
    )
    result = run_training(spec, events.append)
    assert result.ok, result.message
    assert events[0]["backend"] == "unsloth" and events[0]["device"].startswith("cuda")
    assert result.metrics["eval_loss"] < result.metrics["base_eval_loss"]
    assert result.metrics["peak_gpu_mb"] > 0


@pytest.mark.gpu
def test_auto_picks_unsloth_on_cuda(tmp_path, hf_base, facts_data):
    pytest.importorskip("unsloth", reason="the gpu extra (unsloth, trl) is not installed")
    events: list[dict] = []
    spec = TrainSpec(
        base_dir=str(hf_base),
        train_path=str(facts_data.paths["train"]),
        output_dir=str(tmp_path / "run"),
        steps=2,
        nice=0,
    )
    run_training(spec, events.append)
    assert events[0]["backend"] == "unsloth"
