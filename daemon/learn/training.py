"""The training service: one run at a time, from the user's examples to a loaded adapter.

    dataset -> trainer subprocess -> GGUF export -> eval gate -> registry -> hot-load

A run is a row in `training_runs` and a folder in COVE_HOME/training/<run id> (dataset,
trainer log and events, the PEFT adapter). It goes through the stages in `STAGES` and ends
`promoted`, `rejected`, `failed` or `cancelled`; a scheduled run whose conditions fail is
recorded as `skipped` with the reasons. Each run works on its own thread with its own
database connection; the trainer is a subprocess (`cove.finetune.trainer`), so a crash or
an OOM kill ends the run as `failed` and leaves the daemon and the active adapter as they
were. Progress (step, loss, tokens/s, ETA) is kept in memory for the API and written to
the row as it comes.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from cove.daemon.config import Config
from cove.daemon.learn import adapters
from cove.daemon.learn.examples import (
    count_new_examples,
    current_examples,
    read_example_digests,
    scrub_stored_datasets,
    write_example_digests,
)
from cove.daemon.learn.run import Run
from cove.daemon.runtime import Runtime
from cove.daemon.runtime.models import ModelChoice, resolve_model
from cove.daemon.scheduler import Check, Conditions, check_conditions, on_battery
from cove.daemon.store import get_setting
from cove.daemon.store.db import connect

log = logging.getLogger("cove.training")

STAGES = ("base", "dataset", "training", "export", "evaluating", "activating")
# Probe answers are short facts; greedy decoding makes base and adapter comparable.
PROBE_MAX_TOKENS = 48
# Every fact and paraphrase is asked, up to this many (~2 s each for base and adapter).
MAX_PROBES = 64
# The base model's scores on the general held-out set, kept between runs.
GENERAL_BASE_CACHE = "general-base-scores.json"
# What a run's `progress` keeps of the trainer's events (an epoch's may come first: Unsloth
# logs a step after its epoch check).
PROGRESS_KEYS = {
    "progress": ("step", "steps", "loss", "tokens_per_s", "eta_s", "elapsed_s"),
    "epoch": ("step", "steps", "epoch", "epochs", "learned", "facts", "drift", "best_epoch"),
}
# The eval gate's own llama.cpp instance needs far less context than chat.
PROBE_CONTEXT = 2048
NOTHING_TO_LEARN = (
    "nothing to learn from yet: teach Cove facts with `cove teach QUESTION ANSWER` or rate "
    "and correct answers in the chat"
)


class TrainingBusyError(RuntimeError):
    """A run is already in progress (only one at a time)."""


class RunFailed(RuntimeError):
    """A stage cannot go on; the message is what the user reads."""


class RunNotFoundError(LookupError):
    pass


def has_gpu() -> bool:
    """A CUDA device torch can use (the Unsloth path)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def hardware() -> str:
    if has_gpu():
        import torch

        return f"cuda: {torch.cuda.get_device_name(0)}"
    return "cpu"


class TrainingService:
    """Starts, watches and records training runs for the daemon."""

    def __init__(
        self,
        config: Config,
        runtime: Runtime,
        gpu: Callable[[], bool] = has_gpu,
        battery: Callable[[], bool] = on_battery,
    ) -> None:
        self.config = config
        self.runtime = runtime
        self._gpu = gpu
        self._battery = battery
        self._db = connect(config.paths.db)
        self._lock = threading.Lock()
        self._run: Run | None = None
        self._cancel = threading.Event()
        self._thread: threading.Thread | None = None
        self._stage_started: float | None = None
        self._mark_interrupted_runs()

    # --- what the API reads --------------------------------------------------------------

    @property
    def teach_folder(self) -> Path:
        return self.config.teach_folder

    def current(self) -> dict | None:
        """The run in progress, as it stands now; None when idle."""
        with self._lock:
            return self._run.as_dict() if self._run else None

    def get_run(self, run_id: str) -> dict:
        live = self.current()
        if live and live["id"] == run_id:
            return live
        rows = list(self._db.query("SELECT * FROM training_runs WHERE id = ?", [run_id]))
        if not rows:
            raise RunNotFoundError(f"no training run {run_id!r}: see `cove train status`")
        return Run.from_row(rows[0]).as_dict()

    def runs(self, limit: int = 20) -> list[dict]:
        """The latest runs, newest first (the one in progress as it stands now)."""
        sql = "SELECT * FROM training_runs ORDER BY started_at DESC LIMIT ?"
        rows = [Run.from_row(row).as_dict() for row in self._db.query(sql, [limit])]
        live = self.current()
        return [live if live and row["id"] == live["id"] else row for row in rows]

    def conditions(self) -> dict:
        """What a scheduled run would decide now: `{ok, reasons, new_examples, ...}`."""
        conditions = self._conditions()
        check = check_conditions(conditions)
        return {**conditions.__dict__, "ok": check.ok, "reasons": check.reasons}

    # --- starting and stopping -----------------------------------------------------------

    def start(self, trigger: str = "now", steps: int | None = None) -> dict:
        """Start a run in the background and return its document. TrainingBusyError when
        one is in progress."""
        with self._lock:
            if self._run is not None:
                raise TrainingBusyError(
                    f"training run {self._run.id} is in progress: `cove train status`"
                )
            # None: the data sets the steps (epochs), once the dataset is built.
            run = Run.new(trigger, "running", steps or self.config.train.steps or None, hardware())
            self._run = run
            self._cancel = threading.Event()
            self._thread = threading.Thread(
                target=self._execute, args=(run.id,), name="cove-training", daemon=True
            )
        self._insert(run)
        self._thread.start()
        return run.as_dict()

    def cancel(self) -> dict | None:
        """Stop the run in progress (the trainer saves and exits); None when idle."""
        self._cancel.set()
        return self.current()

    def on_schedule(self) -> None:
        """The nightly job: start a run if the conditions hold, else record it skipped."""
        check: Check = check_conditions(self._conditions())
        if not check.ok:
            self._record_skipped("; ".join(check.reasons))
            return
        try:
            self.start(trigger="schedule")
        except TrainingBusyError as exc:
            self._record_skipped(str(exc))

    def shutdown(self, timeout_s: float = 30.0) -> None:
        """Cancel a run in progress and wait a little for it to record its end."""
        self._cancel.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout_s)

    # --- one run ------------------------------------------------------------------------

    def _execute(self, run_id: str) -> None:
        run_dir = self.config.paths.training / run_id
        try:
            outcome = self._stages(run_dir)
        except RunFailed as exc:
            outcome = {"status": "cancelled" if self._cancel.is_set() else "failed"}
            outcome["error"] = str(exc)
        except Exception as exc:  # a bug must end the run, never the daemon
            log.exception("training run %s failed", run_id)
            outcome = {"status": "failed", "error": f"unexpected error: {exc}"}
        self._stage(None)
        self._update(**outcome, ended_at=time.time())
        final = self.current()
        with self._lock:
            self._run = None
        log.info("training run %s ended: %s %s", run_id, final["status"], final.get("error") or "")

    def _stages(self, run_dir: Path) -> dict:
        from cove.finetune.export import ExportError, export_gguf_adapter

        run_dir.mkdir(parents=True, exist_ok=True)
        examples = current_examples(self._db, self.teach_folder)
        if not examples:  # say so before any heavy work
            raise RunFailed(NOTHING_TO_LEARN)
        choice = self._model_choice()
        base_dir = self._stage_base(choice)
        dataset = self._stage_dataset(base_dir, run_dir, choice)
        write_example_digests(run_dir, examples)
        result = self._stage_training(base_dir, dataset, run_dir)
        self._stage("export")
        adapter_id = adapters.new_adapter_id()
        gguf = self.config.paths.adapters / adapter_id / "adapter.gguf"
        try:
            export_gguf_adapter(Path(result.adapter_dir), base_dir, gguf)
        except ExportError as exc:
            raise RunFailed(f"exporting the adapter to GGUF failed: {exc}") from exc
        decision, metrics = self._stage_gate(choice, dataset, result, gguf)
        status = "promoted" if decision.promote else "rejected"
        adapters.register(
            self._db,
            adapter_id=adapter_id,
            run_id=self.current()["id"],
            path=gguf,
            base_model=choice.model_id,
            status=status,
            metrics=metrics,
            data_stats=dataset.stats,
            provenance=dataset.provenance(),
            questions=dataset.questions(),
        )
        self._update(decision=decision.to_dict(), metrics=metrics, adapter_id=adapter_id)
        if decision.promote and choice.backend == "ollama":
            self._stage("activating")
            made = self._to_ollama(adapter_id)
            self._update(metrics={**metrics, "ollama_model": made["model"]})
        elif decision.promote and self.config.train.auto_activate:
            self._stage("activating")
            try:
                adapters.activate(self._db, self.runtime, self.config, adapter_id)
            except adapters.AdapterError as exc:
                raise RunFailed(f"the adapter was promoted but not loaded: {exc}") from exc
        return {"status": status}

    def _to_ollama(self, adapter_id: str) -> dict:
        """Ollama takes an adapter only in a model created with it: make that model (the
        user switches to it with `cove models use`; Cove does not switch on its own)."""
        try:
            return adapters.to_ollama(self._db, self.config, adapter_id)
        except adapters.AdapterError as exc:
            raise RunFailed(f"the adapter was promoted but Ollama refused it: {exc}") from exc

    def _stage_base(self, choice: ModelChoice) -> Path:
        from concurrent.futures.process import BrokenProcessPool

        from cove.finetune.base import BaseModelError, prepare_base_in_child, resolve_base

        self._stage("base")
        configured = self.config.train.base_model
        if not configured and choice.path is None:
            raise RunFailed(
                f"the model in use ({choice.model_id}) is not a GGUF file Cove can train: "
                "set [train] base_model to an HF model directory"
            )
        try:
            if configured:
                return resolve_base(hf_dir=Path(configured).expanduser())
            return prepare_base_in_child(choice.path, self.config.paths.hf_models)
        except BaseModelError as exc:
            raise RunFailed(str(exc)) from exc
        except BrokenProcessPool as exc:  # the converter died (out of memory?)
            raise RunFailed(f"converting {choice.path.name} to an HF model failed: {exc}") from exc

    def _stage_dataset(self, base_dir: Path, run_dir: Path, choice: ModelChoice):
        from transformers import AutoTokenizer

        from cove.daemon.records.feedback import training_examples
        from cove.finetune.dataset import DatasetError, build_dataset, write_dataset
        from cove.finetune.drift import REPLAY_FILE, write_general

        self._stage("dataset")
        scrub_stored_datasets(self._db, self.config.paths.training)
        train = self.config.train
        tokenizer = AutoTokenizer.from_pretrained(str(base_dir), local_files_only=True)
        try:
            dataset = build_dataset(
                tokenizer,
                feedback=training_examples(self._db),
                teach_folder=self.teach_folder,
                extra=self._synthetic_examples(choice),
                system=self._system_prompt(),
                heldout_fraction=train.heldout_fraction,
            )
        except DatasetError as exc:
            raise RunFailed(str(exc)) from exc
        self._update(data_stats=dataset.stats)
        if not dataset.train:
            raise RunFailed(NOTHING_TO_LEARN)
        write_dataset(dataset, run_dir / "data")
        write_general(tokenizer, run_dir / "data")
        write_general(tokenizer, run_dir / "data", REPLAY_FILE)
        return dataset

    def _stage_training(self, base_dir: Path, dataset, run_dir: Path):
        from cove.finetune.dataset import HELDOUT_FILE, TRAIN_FILE
        from cove.finetune.drift import GENERAL_FILE, REPLAY_FILE
        from cove.finetune.epochs import planned_steps
        from cove.finetune.spec import TrainSpec
        from cove.finetune.trainer import run_training

        self._stage("training")
        train = self.config.train
        data = run_dir / "data"
        steps = self.current()["steps"]
        if not steps:
            steps = planned_steps(len(dataset.train), train.batch_size, train.epochs)
            self._update(steps=steps)
        spec = TrainSpec(
            base_dir=str(base_dir),
            train_path=str(data / TRAIN_FILE),
            eval_path=str(data / HELDOUT_FILE) if dataset.heldout else None,
            general_path=str(data / GENERAL_FILE.name),
            general_rows=train.drift_examples,
            base_loss_cache=str(self.config.paths.training / GENERAL_BASE_CACHE),
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
        result = run_training(spec, self._on_trainer_event, cancel=self._cancel)
        if not result.ok:
            raise RunFailed(result.message or f"training ended: {result.status}")
        self._update(metrics=result.metrics)
        return result

    def _stage_gate(self, choice: ModelChoice, dataset, result, gguf: Path):
        from cove.daemon.runtime.base import GenerationParams, ModelLoadError
        from cove.daemon.runtime.llamacpp import LlamaCppBackend
        from cove.finetune import evaluate

        self._stage("evaluating")
        base, tuned = evaluate.trainer_measures(result.metrics)
        probes = evaluate.select_probes(dataset.probes(), MAX_PROBES)
        metrics: dict = {"trainer": result.metrics, "probes": len(probes)}
        if probes and choice.path is not None:
            backend = LlamaCppBackend(choice.path, choice.model_id, PROBE_CONTEXT, self._threads())
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
        train = self.config.train  # the gate's margins are [train] keys of the same names
        margins = evaluate.Margins(
            **{f.name: getattr(train, f.name) for f in fields(evaluate.Margins)}
        )
        return evaluate.decide(base, tuned, margins), metrics

    # --- helpers ------------------------------------------------------------------------

    def _model_choice(self) -> ModelChoice:
        name = get_setting(self._db, "model") or self.config.model.chat
        return resolve_model(name, self.config)

    def _threads(self) -> int:
        """CPU threads for the run's own llama.cpp work: [train] threads, else the model's."""
        return self.config.train.threads or self.config.threads

    def _system_prompt(self) -> str:
        from cove.daemon.answer.grounding import GENERAL_SYSTEM_PROMPT

        # Personal facts are asked without sources: train as general answers are served.
        return self.config.chat.general_prompt or GENERAL_SYSTEM_PROMPT

    def _synthetic_examples(self, choice: ModelChoice) -> list:
        """RAFT-style examples written by the chat model from indexed chunks (off by
        default: two model calls per example, and the default model writes poor ones)."""
        wanted = self.config.train.synthetic_examples
        if wanted <= 0:
            return []
        from cove.daemon.answer.grounding import GROUNDED_SYSTEM_PROMPT
        from cove.daemon.runtime.base import GenerationParams
        from cove.daemon.runtime.llamacpp import LlamaCppBackend
        from cove.finetune.evaluate import backend_answerer
        from cove.finetune.synthetic import live_chunks, raft_examples

        chunks = live_chunks(self._db)
        if not chunks or choice.path is None:
            return []
        params = GenerationParams(max_tokens=128, temperature=0.3, seed=1)
        backend = LlamaCppBackend(choice.path, choice.model_id, PROBE_CONTEXT, self._threads())
        try:
            examples, problems = raft_examples(
                chunks,
                backend_answerer(backend, params),
                max_examples=wanted,
                system=self.config.chat.system_prompt or GROUNDED_SYSTEM_PROMPT,
            )
        finally:
            backend.close()
        log.info("synthetic examples: %d written, %d problems", len(examples), len(problems))
        return examples

    def _on_trainer_event(self, event: dict) -> None:
        kind = event.get("event")
        if kind in PROGRESS_KEYS:  # a step's figures, and the last epoch's beside them
            figures = {key: event.get(key) for key in PROGRESS_KEYS[kind]}
            with self._lock:
                if self._run is not None:
                    self._run.progress = {**(self._run.progress or {}), **figures}
                    if kind == "progress" and event.get("loss") is not None:
                        self._run.losses = [*(self._run.losses or []), event["loss"]]
            self._persist()
        elif kind in ("start", "loaded"):
            with self._lock:
                if self._run is not None and event.get("pid"):
                    self._run.trainer_pid = event["pid"]

    def _conditions(self) -> Conditions:
        examples = current_examples(self._db, self.teach_folder)
        return Conditions(
            new_examples=count_new_examples(examples, self._last_trained_digests()),
            min_new_examples=self.config.train.min_new_examples,
            gpu=self._gpu(),
            allow_cpu=self.config.train.allow_cpu,
            on_battery=self._battery(),
        )

    def _last_trained_digests(self) -> set[str]:
        sql = (
            "SELECT id FROM training_runs WHERE status IN ('promoted', 'rejected') "
            "ORDER BY started_at DESC LIMIT 1"
        )
        rows = list(self._db.query(sql))
        return read_example_digests(self.config.paths.training / rows[0]["id"]) if rows else set()

    def _record_skipped(self, reason: str) -> None:
        run = Run.new("schedule", "skipped", None, hardware())
        run.ended_at, run.error = time.time(), reason
        self._insert(run)
        log.info("scheduled training skipped: %s", reason)

    def _stage(self, stage: str | None) -> None:
        """Enter `stage` (None: the run is over), timing the stage it leaves."""
        if stage is not None and self._cancel.is_set():
            raise RunFailed("cancelled")
        now = time.monotonic()
        with self._lock:
            if self._run is None:
                return
            left, since = self._run.stage, self._stage_started
            if left is not None and since is not None:
                self._run.stage_seconds = {
                    **(self._run.stage_seconds or {}),
                    left: round(now - since, 1),
                }
            self._stage_started = now
        self._update(stage=stage)

    def _update(self, **fields) -> None:
        with self._lock:
            if self._run is None:
                return
            self._run = dataclasses.replace(self._run, **fields)
        self._persist()

    def _insert(self, run: Run) -> None:
        self._db["training_runs"].insert(run.to_row())

    def _persist(self) -> None:
        with self._lock:
            row = self._run.to_row() if self._run else None
        if row is not None:
            self._db["training_runs"].update(row["id"], row)

    def _mark_interrupted_runs(self) -> None:
        """Runs left `running` by a daemon that died: they can never finish."""
        self._db.execute(
            "UPDATE training_runs SET status = 'failed', ended_at = ?, "
            "error = 'the daemon stopped during the run' WHERE status = 'running'",
            [time.time()],
        )
