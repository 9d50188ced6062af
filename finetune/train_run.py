"""The trainer subprocess: `python -m cove.finetune.train_run SPEC.json`.

The daemon launches it (`trainer.run_training`) and reads one JSON object per line on
its stdout; everything else the libraries print goes to stderr. Events:

    {"event": "start", "pid", "backend": "peft"|"unsloth", "device", "nice", "threads",
     "steps", "max_seconds"}
    {"event": "loaded", "examples", "eval_examples", "general_examples", "replay_examples",
     "steps_per_epoch"}
    {"event": "progress", "step", "steps", "loss", "tokens_per_s", "eta_s", "elapsed_s"}
    {"event": "epoch", "epoch", "epochs", "step", "steps", "learned", "facts", "recall",
     "fact_loss", "drift", "improved", "best_epoch"}
    {"event": "done", "adapter_dir", "steps_done", "steps", "stopped", "train_loss",
     "eval_loss", "base_eval_loss", "tokens", "tokens_per_s", "train_seconds",
     "check_seconds", "epochs", "best_epoch", "best_step", "early_stop", "general_loss",
     "base_general_loss", "general_drift", "general_examples", "elapsed_s", "peak_rss_mb",
     "backend"}
    {"event": "error", "message", "type"}

"epoch" follows the last step of each epoch (`cove.finetune.epochs`): facts learned of
the train rows, and the drift on the general subset once all are (else null). The
adapter saved is the best epoch's; `early_stop` says why training ended before its
`steps` (every fact learned and nothing better since), or is null.
`stopped` is null when training ran its course (all steps, or an early stop), "time_window"
when the spec's `max_seconds` ran out, or "signal" after SIGTERM/SIGINT; the adapter of the
steps done is saved either way (`adapter_dir` is null only if no step ran). Exit status: 0
after "done", 1 after "error", 2 for an unreadable spec.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import TextIO

from cove.finetune.spec import SpecError, TrainSpec


class Run:
    """Event output, the time window and stop requests of one training run."""

    def __init__(self, spec: TrainSpec, out: TextIO) -> None:
        self.spec = spec
        self._out = out
        self.started = time.monotonic()
        self.stop_requested: str | None = None
        self._train_started: float | None = None
        self._last_emit = 0.0
        self._last_step_s = 0.0

    def emit(self, event: str, **fields) -> None:
        self._out.write(json.dumps({"event": event, **fields}) + "\n")
        self._out.flush()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def should_stop(self) -> str | None:
        """Why to stop before the next step, or None: a signal, or the window would end."""
        if self.stop_requested:
            return self.stop_requested
        window = self.spec.max_seconds
        if window is not None and self.elapsed() + self._last_step_s > window:
            return "time_window"
        return None

    def step_done(self, step: int, steps: int, loss: float, tokens: int, step_s: float) -> None:
        """Record a finished step; emit progress at most every `progress_interval_s`."""
        now = time.monotonic()
        if self._train_started is None:
            self._train_started = now - step_s
        self._last_step_s = step_s
        if step != 1 and step != steps and now - self._last_emit < self.spec.progress_interval_s:
            return
        self._last_emit = now
        training = now - self._train_started
        eta = (steps - step) * training / step
        if self.spec.max_seconds is not None:
            eta = min(eta, max(0.0, self.spec.max_seconds - self.elapsed()))
        self.emit(
            "progress",
            step=step,
            steps=steps,
            loss=round(loss, 4),
            tokens_per_s=round(tokens / training, 1) if training else None,
            eta_s=round(eta, 1),
            elapsed_s=round(self.elapsed(), 1),
        )


def lower_priority(increment: int) -> int:
    """Add `increment` to this process's niceness; returns the niceness now."""
    try:
        return os.nice(increment) if increment else os.nice(0)
    except OSError:
        return os.nice(0)


def choose_backend(spec: TrainSpec) -> str:
    """peft, or Unsloth on CUDA. Unsloth cannot even be imported without a GPU."""
    import importlib.util

    import torch

    if spec.backend == "peft":
        return "peft"
    cuda = torch.cuda.is_available()
    if spec.backend == "unsloth":
        if not cuda:
            raise RuntimeError("the Unsloth backend needs a CUDA GPU; use backend 'peft'")
        return "unsloth"
    return "unsloth" if cuda and importlib.util.find_spec("unsloth") else "peft"


def check_inputs(spec: TrainSpec) -> None:
    from cove.finetune.base import is_base_dir

    if not is_base_dir(Path(spec.base_dir)):
        raise FileNotFoundError(f"no HF base model in {spec.base_dir}")
    for path in (spec.train_path, spec.eval_path):
        if path and not Path(path).is_file():
            raise FileNotFoundError(f"dataset file not found: {path}")


def _events_stream() -> TextIO:
    """Keep the real stdout for events; send fd 1 (and print) to stderr from now on."""
    out = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # The run folder (dataset, log, adapter) lies under COVE_HOME: private, like the daemon
    # that launches us, even when started by hand.
    os.umask(0o077)
    out = _events_stream()
    # Before torch loads: idle OpenMP threads sleep instead of spinning, which leaves the
    # CPU to chat and keeps a loaded machine from stalling the trainer's thread team.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if len(argv) != 1:
        out.write(json.dumps({"event": "error", "message": "usage: train_run SPEC.json"}) + "\n")
        return 2
    try:
        spec = TrainSpec.read(Path(argv[0]))
    except SpecError as exc:
        out.write(json.dumps({"event": "error", "message": str(exc), "type": "SpecError"}) + "\n")
        return 2
    run = Run(spec, out)

    def request_stop(signum, frame) -> None:
        run.stop_requested = "signal"

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    nice = lower_priority(spec.nice)
    try:
        import torch

        threads = spec.threads or os.cpu_count() or 1
        torch.set_num_threads(threads)
        backend = choose_backend(spec)
        if backend == "unsloth":
            device = "cuda"
        else:
            from cove.finetune.backends.peft_lora import pick_device

            device = pick_device(spec)
        if device == "cuda":
            device = f"cuda ({torch.cuda.get_device_name(0)})"
        run.emit(
            "start",
            pid=os.getpid(),
            backend=backend,
            device=device,
            nice=nice,
            threads=threads,
            steps=spec.steps,
            max_seconds=spec.max_seconds,
        )
        check_inputs(spec)
        if backend == "unsloth":
            from cove.finetune.backends import unsloth_qlora as chosen
        else:
            from cove.finetune.backends import peft_lora as chosen
        result = chosen.train(spec, run)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        run.emit(
            "done",
            **result,
            steps=spec.steps,
            backend=backend,
            elapsed_s=round(run.elapsed(), 2),
            peak_rss_mb=round(peak, 1),
        )
        return 0
    except Exception as exc:
        traceback.print_exc()
        run.emit("error", message=f"{type(exc).__name__}: {exc}", type=type(exc).__name__)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
