"""The CUDA path: Unsloth QLoRA through the same subprocess, spec and events. Marked gpu
and skipped without CUDA. What runs without it is checked everywhere: the chat-template
markers, and the TrainerCallback that runs the epoch checks (on the CPU model with a
fresh LoRA adapter, as Unsloth's model is before training)."""

from __future__ import annotations

import io
import json

import pytest

from cove.finetune.backends.checks import RunChecks
from cove.finetune.backends.unsloth_qlora import (
    progress_callback,
    replay_share,
    sft_text,
    template_parts,
)
from cove.finetune.epochs import EpochMeasure
from cove.finetune.spec import TrainSpec
from cove.finetune.train_run import Run
from cove.finetune.trainer import run_training


def test_template_markers_for_responses_only_training(tokenizer):
    assert template_parts(tokenizer) == ("<|im_start|>user\n", "<|im_start|>assistant\n")


def test_sft_text_ends_with_the_end_of_turn_token(tokenizer, facts_data):
    row = facts_data.dataset.train[0]
    text = sft_text(row, tokenizer.eos_token)
    assert text.endswith(row["target"] + "<|im_end|>")  # TRL appends no second EOS
    assert text.startswith(row["prompt"])


def test_replay_rows_join_the_dataset_as_on_the_cpu(facts_data, replay_path, tmp_path):
    rows = facts_data.dataset.train  # 5 rows: 2 steps an epoch
    spec = TrainSpec(
        base_dir="", train_path="", output_dir=str(tmp_path), replay_path=str(replay_path)
    )
    share = replay_share(rows, spec)
    assert len(share) == 2 * spec.replay_rows  # what the CPU path mixes into an epoch
    assert all(row["kind"] == "general" for row in share)
    spec.replay_rows = 0
    assert replay_share(rows, spec) == []


@pytest.fixture(scope="module")
def fresh_lora(hf_base):
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM

    from cove.finetune.backends.peft_lora import lora_config

    model = AutoModelForCausalLM.from_pretrained(hf_base, dtype=torch.float32)
    spec = TrainSpec(base_dir=str(hf_base), train_path="", output_dir="")
    return get_peft_model(model, lora_config(spec, model))


class Callback:
    """The Unsloth backend's callback over a real spec, run and checks (5 train rows in
    epochs of 2 steps), with the events it writes."""

    def __init__(self, tmp_path, hf_base, facts_data, general_path, tokenizer, model):
        from transformers import TrainerControl, TrainerState

        self.spec = TrainSpec(
            base_dir=str(hf_base),
            train_path=str(facts_data.paths["train"]),
            general_path=str(general_path),
            output_dir=str(tmp_path),
            steps=6,
            drift_rows=2,
            patience=2,
        )
        self.out = io.StringIO()
        self.run = Run(self.spec, self.out)
        self.checks = RunChecks(self.spec, tokenizer, tokenizer.pad_token_id, 5, "test")
        self.callback = progress_callback(self.spec, self.run, self.checks, model, 50.0)
        self.state, self.control = TrainerState(), TrainerControl()

    def step(self, step: int) -> None:
        self.state.global_step = step
        self.callback.on_step_end(None, self.state, self.control)

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.out.getvalue().splitlines()]


def test_the_callback_checks_each_epoch_and_stops_when_the_checks_say_so(
    tmp_path, hf_base, facts_data, general_path, tokenizer, fresh_lora
):
    trainer = Callback(tmp_path, hf_base, facts_data, general_path, tokenizer, fresh_lora)
    trainer.step(1)
    assert trainer.events() == []  # mid-epoch: nothing measured
    trainer.step(2)
    [epoch] = trainer.events()
    assert (epoch["event"], epoch["epoch"], epoch["epochs"], epoch["facts"]) == ("epoch", 1, 3, 5)
    assert (epoch["step"], epoch["steps"]) == (2, 6)  # before the step's own progress event
    assert not trainer.control.should_training_stop
    # every fact was learned two epochs ago and nothing since beat it: stop here
    trainer.checks.keeper.best = EpochMeasure(1, 2, learned=5, facts=5, fact_loss=0.01)
    trainer.checks.keeper.since_best = 1
    trainer.step(4)
    assert trainer.control.should_training_stop
    assert trainer.checks.early_stop().startswith("every fact learned")

    trainer.callback.on_log(None, trainer.state, trainer.control, logs={"loss": 1.5})
    progress = trainer.events()[-1]
    assert (progress["event"], progress["step"], progress["steps"]) == ("progress", 4, 6)
    assert trainer.callback.losses == [1.5]


def test_a_stop_request_ends_training_and_a_failing_check_does_not(
    tmp_path, hf_base, facts_data, general_path, tokenizer, capsys
):
    not_a_model = object()  # a model the checks cannot measure
    trainer = Callback(tmp_path, hf_base, facts_data, general_path, tokenizer, not_a_model)
    trainer.step(2)
    assert not trainer.callback.checking and trainer.events() == []
    assert "Traceback" in capsys.readouterr().err  # said why, on the trainer's log
    assert not trainer.control.should_training_stop  # training goes on, unchecked
    trainer.run.stop_requested = "signal"
    trainer.step(3)
    assert trainer.control.should_training_stop
    assert trainer.callback.state["stopped"] == "signal"


@pytest.mark.gpu
def test_unsloth_trains_an_adapter_the_gate_can_judge(tmp_path, hf_base, facts_data, general_path):
    pytest.importorskip("unsloth", reason="the gpu extra (unsloth, trl) is not installed")
    events: list[dict] = []
    spec = TrainSpec(
        base_dir=str(hf_base),
        train_path=str(facts_data.paths["train"]),
        eval_path=str(facts_data.paths["heldout"]),
        general_path=str(general_path),
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
    # the same epoch checks as on the CPU: measures, the best checkpoint, the drift
    assert [e["epoch"] for e in events if e["event"] == "epoch"][:2] == [1, 2]
    assert result.metrics["best_epoch"] is not None
    assert result.metrics["general_drift"] is not None


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
