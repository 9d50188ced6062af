"""The training service: one run at a time, from the user's examples to a loaded adapter.

    dataset -> trainer subprocess -> GGUF export -> eval gate -> registry -> hot-load

A run is a row in `training_runs` and a folder in COVE_HOME/training/<run id> (dataset,
trainer log and events, the PEFT adapter). It goes through the stages in `stages.STAGES` and ends
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
from cove.daemon.learn.stages import (
    NOTHING_TO_LEARN,
    RunFailed,
    build_run_dataset,
    export_adapter,
    gate,
    prepare_base,
    train_adapter,
)
from cove.daemon.runtime import Runtime
from cove.daemon.runtime.models import ModelChoice, resolve_model
from cove.daemon.scheduler import Check, Conditions, check_conditions, on_battery
from cove.daemon.store import get_setting
from cove.daemon.store.db import connect

log = logging.getLogger("cove.training")

# What a run's `progress` keeps of the trainer's events (an epoch's may come first: Unsloth
# logs a step after its epoch check).
PROGRESS_KEYS = {
    "progress": ("step", "steps", "loss", "tokens_per_s", "eta_s", "elapsed_s"),
    "epoch": ("step", "steps", "epoch", "epochs", "learned", "facts", "drift", "best_epoch"),
}


class TrainingBusyError(RuntimeError):
    """A run is already in progress (only one at a time)."""


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
        run_dir.mkdir(parents=True, exist_ok=True)
        examples = current_examples(self._db, self.teach_folder)
        if not examples:  # say so before any heavy work
            raise RunFailed(NOTHING_TO_LEARN)
        choice = self._model_choice()
        self._stage("base")
        base_dir = prepare_base(self.config, choice)
        self._stage("dataset")
        scrub_stored_datasets(self._db, self.config.paths.training)
        dataset = build_run_dataset(
            self._db, self.config, base_dir, run_dir, choice, update=self._update
        )
        write_example_digests(run_dir, examples)
        self._stage("training")
        result = train_adapter(
            self.config,
            base_dir,
            dataset,
            run_dir,
            steps=self.current()["steps"],
            update=self._update,
            on_event=self._on_trainer_event,
            cancel=self._cancel,
        )
        self._stage("export")
        adapter_id = adapters.new_adapter_id()
        gguf = self.config.paths.adapters / adapter_id / "adapter.gguf"
        export_adapter(Path(result.adapter_dir), base_dir, gguf)
        self._stage("evaluating")
        decision, metrics = gate(self.config, choice, dataset, result, gguf)
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

    # --- helpers ------------------------------------------------------------------------

    def _model_choice(self) -> ModelChoice:
        name = get_setting(self._db, "model") or self.config.model.chat
        return resolve_model(name, self.config)

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
