"""The stages of a training run, each a function of what it needs:

    base -> dataset -> training -> export -> evaluating (the gate)

The training service (`training.py`) calls them in order, one run at a time, and records
what they report through `update` (the run's fields). A stage that cannot go on raises
`RunFailed` with the message the user reads. The heavy libraries (transformers, the
fine-tuning package, llama.cpp) are imported inside the stage that uses them, so the daemon
starts without them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

import sqlite_utils

from cove.daemon.config import Config
from cove.daemon.records.feedback import training_examples
from cove.daemon.runtime.models import ModelChoice

log = logging.getLogger("cove.training")

STAGES = ("base", "dataset", "training", "export", "evaluating", "activating")
# Probe answers are short facts; greedy decoding makes base and adapter comparable.
PROBE_MAX_TOKENS = 48
# Every fact and paraphrase is asked, up to this many (~2 s each for base and adapter).
MAX_PROBES = 64
# The base model's scores on the general held-out set, kept between runs.
GENERAL_BASE_CACHE = "general-base-scores.json"
# The eval gate's own llama.cpp instance needs far less context than chat.
PROBE_CONTEXT = 2048
NOTHING_TO_LEARN = (
    "nothing to learn from yet: teach Cove facts with `cove teach QUESTION ANSWER` or rate "
    "and correct answers in the chat"
)


class RunFailed(RuntimeError):
    """A stage cannot go on; the message is what the user reads."""


def run_threads(config: Config) -> int:
    """CPU threads for the run's own llama.cpp work: [train] threads, else the model's."""
    return config.train.threads or config.threads


def prepare_base(config: Config, choice: ModelChoice) -> Path:
    """The HF model directory to train on: [train] base_model, else the chat GGUF
    converted (in a child process, once per model)."""
    from concurrent.futures.process import BrokenProcessPool

    from cove.finetune.base import BaseModelError, prepare_base_in_child, resolve_base

    configured = config.train.base_model
    if not configured and choice.path is None:
        raise RunFailed(
            f"the model in use ({choice.model_id}) is not a GGUF file Cove can train: "
            "set [train] base_model to an HF model directory"
        )
    try:
        if configured:
            return resolve_base(hf_dir=Path(configured).expanduser())
        return prepare_base_in_child(choice.path, config.paths.hf_models)
    except BaseModelError as exc:
        raise RunFailed(str(exc)) from exc
    except BrokenProcessPool as exc:  # the converter died (out of memory?)
        raise RunFailed(f"converting {choice.path.name} to an HF model failed: {exc}") from exc


def build_run_dataset(
    db: sqlite_utils.Database,
    config: Config,
    base_dir: Path,
    run_dir: Path,
    choice: ModelChoice,
    update: Callable[..., None],
):
    """The run's dataset from feedback, the teach folder and (if asked) synthetic examples,
    written under `run_dir/data` with the general and replay sets beside it."""
    from transformers import AutoTokenizer

    from cove.finetune.dataset import DatasetError, build_dataset, write_dataset
    from cove.finetune.drift import REPLAY_FILE, write_general

    train = config.train
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir), local_files_only=True)
    try:
        dataset = build_dataset(
            tokenizer,
            feedback=training_examples(db),
            teach_folder=config.teach_folder,
            extra=synthetic_examples(db, config, choice),
            system=system_prompt(config),
            heldout_fraction=train.heldout_fraction,
        )
    except DatasetError as exc:
        raise RunFailed(str(exc)) from exc
    update(data_stats=dataset.stats)
    if not dataset.train:
        raise RunFailed(NOTHING_TO_LEARN)
    write_dataset(dataset, run_dir / "data")
    write_general(tokenizer, run_dir / "data")
    write_general(tokenizer, run_dir / "data", REPLAY_FILE)
    return dataset


def train_adapter(
    config: Config,
    base_dir: Path,
    dataset,
    run_dir: Path,
    steps: int | None,
    update: Callable[..., None],
    on_event: Callable[[dict], None],
    cancel: threading.Event,
):
    """Run the trainer subprocess on the written dataset; its result (a PEFT adapter in
    `run_dir`). `steps` None: planned from the data and [train] epochs."""
    from cove.finetune.dataset import HELDOUT_FILE, TRAIN_FILE
    from cove.finetune.drift import GENERAL_FILE, REPLAY_FILE
    from cove.finetune.epochs import planned_steps
    from cove.finetune.spec import TrainSpec
    from cove.finetune.trainer import run_training

    train = config.train
    data = run_dir / "data"
    if not steps:
        steps = planned_steps(len(dataset.train), train.batch_size, train.epochs)
        update(steps=steps)
    spec = TrainSpec(
        base_dir=str(base_dir),
        train_path=str(data / TRAIN_FILE),
        eval_path=str(data / HELDOUT_FILE) if dataset.heldout else None,
        general_path=str(data / GENERAL_FILE.name),
        general_rows=train.drift_examples,
        base_loss_cache=str(config.paths.training / GENERAL_BASE_CACHE),
        replay_path=str(data / REPLAY_FILE.name),
        replay_rows=train.replay_rows,
        patience=train.patience,
        output_dir=str(run_dir),
        steps=steps,
        batch_size=train.batch_size,
        learning_rate=train.learning_rate,
        r=train.lora_r,
        alpha=train.lora_alpha,
        max_seconds=train.max_minutes * 60,
        threads=train.threads or None,
        backend=train.backend,
    )
    result = run_training(spec, on_event, cancel=cancel)
    if not result.ok:
        raise RunFailed(result.message or f"training ended: {result.status}")
    update(metrics=result.metrics)
    return result


def export_adapter(adapter_dir: Path, base_dir: Path, gguf: Path) -> None:
    """The PEFT adapter as a GGUF llama.cpp loads."""
    from cove.finetune.export import ExportError, export_gguf_adapter

    try:
        export_gguf_adapter(adapter_dir, base_dir, gguf)
    except ExportError as exc:
        raise RunFailed(f"exporting the adapter to GGUF failed: {exc}") from exc


def gate(config: Config, choice: ModelChoice, dataset, result, gguf: Path):
    """The eval gate: base and adapter on the trainer's measures and the probes; the
    decision (promote or reject) and the metrics it rests on."""
    from cove.daemon.runtime.base import GenerationParams, ModelLoadError
    from cove.daemon.runtime.llamacpp import LlamaCppBackend
    from cove.finetune import evaluate

    base, tuned = evaluate.trainer_measures(result.metrics)
    probes = evaluate.select_probes(dataset.probes(), MAX_PROBES)
    metrics: dict = {"trainer": result.metrics, "probes": len(probes)}
    if probes and choice.path is not None:
        backend = LlamaCppBackend(choice.path, choice.model_id, PROBE_CONTEXT, run_threads(config))
        try:
            params = GenerationParams(max_tokens=PROBE_MAX_TOKENS, temperature=0, seed=1)
            scores = evaluate.compare_on_probes(backend, probes, gguf, params)
        except ModelLoadError as exc:
            raise RunFailed(f"the exported adapter does not load in llama.cpp: {exc}") from exc
        finally:
            backend.close()
        base.update(scores["base"])
        tuned.update(scores["adapter"])
        metrics["probe_details"] = scores["details"]
    metrics.update(base=base, adapter=tuned)
    train = config.train  # the gate's margins are [train] keys of the same names
    margins = evaluate.Margins(**{f.name: getattr(train, f.name) for f in fields(evaluate.Margins)})
    return evaluate.decide(base, tuned, margins), metrics


def system_prompt(config: Config) -> str:
    from cove.daemon.answer.grounding import GENERAL_SYSTEM_PROMPT

    # Personal facts are asked without sources: train as general answers are served.
    return config.chat.general_prompt or GENERAL_SYSTEM_PROMPT


def synthetic_examples(db: sqlite_utils.Database, config: Config, choice: ModelChoice) -> list:
    """RAFT-style examples written by the chat model from indexed chunks (off by default:
    two model calls per example, and the default model writes poor ones)."""
    wanted = config.train.synthetic_examples
    if wanted <= 0:
        return []
    from cove.daemon.answer.grounding import GROUNDED_SYSTEM_PROMPT
    from cove.daemon.answer.language import question_language
    from cove.daemon.runtime.base import GenerationParams
    from cove.daemon.runtime.llamacpp import LlamaCppBackend
    from cove.finetune.evaluate import backend_answerer
    from cove.finetune.synthetic import live_chunks, raft_examples

    chunks = live_chunks(db)
    if not chunks or choice.path is None:
        return []
    params = GenerationParams(max_tokens=128, temperature=0.3, seed=1)
    backend = LlamaCppBackend(choice.path, choice.model_id, PROBE_CONTEXT, run_threads(config))
    try:
        examples, problems = raft_examples(
            chunks,
            backend_answerer(backend, params),
            max_examples=wanted,
            system=config.chat.system_prompt or GROUNDED_SYSTEM_PROMPT,
            language_of=question_language,
        )
    finally:
        backend.close()
    log.info("synthetic examples: %d written, %d problems", len(examples), len(problems))
    return examples
