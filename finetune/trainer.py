"""Launch and watch the trainer subprocess from the daemon's side.

`run_training` starts `python -m cove.finetune.train_run SPEC.json`, passes each JSON
event to a callback and returns a `TrainResult`. Whatever happens to the child (a crash,
the OOM killer, a kill, a hang past the deadline, garbage on its stdout) comes back as
a result with `ok=False` and a message: this function does not raise, so a failed
training run cannot take the daemon down. The child's stderr is kept in
`output_dir/train.log`, its events in `output_dir/events.jsonl`, the result in
`output_dir/result.json`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cove.finetune.spec import SpecError, TrainSpec

log = logging.getLogger(__name__)

OnEvent = Callable[[dict], None]
# Time the child may take beyond its window (loading, saving, the held-out loss).
DEFAULT_GRACE_S = 300.0
# Time a child that closed its stdout gets to exit before it is killed.
EXIT_GRACE_S = 60.0


@dataclass
class TrainResult:
    """The outcome of one training run.

    `status`: "done" (all steps), "stopped" (time window or signal; the steps done are
    saved), "cancelled", "timeout" (killed past the deadline) or "error". `ok` means an
    adapter was trained and may go to the eval gate. `metrics` is the "done" event.
    """

    ok: bool
    status: str
    message: str = ""
    adapter_dir: str | None = None
    metrics: dict = field(default_factory=dict)
    returncode: int | None = None
    output_dir: str = ""
    log_path: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def _crash_message(returncode: int | None, log_path: Path) -> str:
    if returncode is not None and returncode < 0:
        name = _signal_name(returncode)
        hint = " (killed: out of memory?)" if name == "SIGKILL" else ""
        what = f"the trainer was killed by {name}{hint}"
    else:
        what = f"the trainer exited with status {returncode} without a result"
    tail = _log_tail(log_path)
    return f"{what}; last lines of {log_path}:\n{tail}" if tail else what


def _log_tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _stop(proc: subprocess.Popen, grace_s: float) -> None:
    """SIGTERM (the child saves and exits), then SIGKILL if it does not go in time."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run_training(
    spec: TrainSpec | dict,
    on_event: OnEvent | None = None,
    cancel: threading.Event | None = None,
    python: str | None = None,
    env: dict[str, str] | None = None,
    deadline_s: float | None = None,
    stop_grace_s: float = 30.0,
) -> TrainResult:
    """Run the trainer subprocess for `spec` and wait for it; never raises.

    `on_event` gets every event dict as it arrives (on this thread). Setting `cancel`
    stops the child (SIGTERM: it saves what it has; SIGKILL after `stop_grace_s`); the
    status is then "cancelled". `deadline_s` kills a child that runs longer (default: the
    spec's window plus a grace period, none without a window). `env` is added to the
    child's environment. `spec` may also be the spec's dict (checked here).
    """
    if isinstance(spec, dict):
        try:
            spec = TrainSpec.from_dict(spec)
        except SpecError as exc:
            return TrainResult(False, "error", message=f"bad training spec: {exc}")
    output_dir = Path(spec.output_dir)
    log_path = output_dir / "train.log"
    result = TrainResult(False, "error", output_dir=str(output_dir), log_path=str(log_path))
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
        spec_path = spec.write(output_dir / "spec.json")
        events_file = (output_dir / "events.jsonl").open("w", encoding="utf-8")
        log_file = log_path.open("w", encoding="utf-8")
    except OSError as exc:
        result.message = f"cannot prepare {output_dir}: {exc}"
        return result
    if deadline_s is None and spec.max_seconds is not None:
        deadline_s = spec.max_seconds + DEFAULT_GRACE_S
    child_env = {**os.environ, **(env or {})}
    try:
        proc = subprocess.Popen(
            [python or sys.executable, "-m", "cove.finetune.train_run", str(spec_path)],
            stdout=subprocess.PIPE,
            stderr=log_file,
            stdin=subprocess.DEVNULL,
            env=child_env,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
    except OSError as exc:
        events_file.close()
        log_file.close()
        result.message = f"cannot start the trainer: {exc}"
        return result
    seen = _Outcome()
    try:
        _watch(proc, on_event, events_file, cancel, deadline_s, stop_grace_s, seen)
    except Exception as exc:  # nothing may escape into the daemon
        _stop(proc, 0)
        seen.last = None
        result.message = f"watching the trainer failed: {exc}"
    finally:
        events_file.close()
        log_file.close()
    try:  # stdout is closed: the child is exiting (a thread left running can hang it)
        result.returncode = proc.wait(timeout=EXIT_GRACE_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        result.returncode = proc.wait()
    _settle(result, seen, log_path)
    with contextlib.suppress(OSError):
        (output_dir / "result.json").write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return result


@dataclass
class _Outcome:
    """What watching the child saw: its last done/error event, and what the parent did."""

    last: dict | None = None
    cancelled: bool = False
    timed_out: bool = False


def _watch(
    proc: subprocess.Popen,
    on_event: OnEvent | None,
    events_file,
    cancel: threading.Event | None,
    deadline_s: float | None,
    stop_grace_s: float,
    seen: _Outcome,
) -> None:
    """Relay events until the child's stdout closes, stopping it on cancel or deadline."""
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    started = time.monotonic()
    while True:
        if cancel is not None and cancel.is_set() and not seen.cancelled:
            seen.cancelled = True
            threading.Thread(target=_stop, args=(proc, stop_grace_s), daemon=True).start()
        late = deadline_s is not None and time.monotonic() - started > deadline_s
        if late and not seen.timed_out:
            seen.timed_out = True
            proc.kill()
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        if line is None:
            return
        try:
            event = json.loads(line)
            if not isinstance(event, dict) or "event" not in event:
                raise ValueError("not an event")
        except ValueError:
            log.warning("trainer wrote a non-event line: %r", line[:200])
            continue
        events_file.write(json.dumps(event) + "\n")
        events_file.flush()
        if event["event"] in ("done", "error"):
            seen.last = event
        if on_event is not None:
            try:
                on_event(event)
            except Exception:  # a faulty callback must not abandon the child
                log.exception("training event callback failed")


def _settle(result: TrainResult, seen: _Outcome, log_path: Path) -> None:
    """Fill in ok/status/message/metrics from what was seen and the exit status."""
    last = seen.last
    if last is not None and last["event"] == "done":
        result.metrics = {k: v for k, v in last.items() if k != "event"}
        result.adapter_dir = last.get("adapter_dir")
        if seen.cancelled:
            result.status, result.message = "cancelled", "cancelled; the steps done were saved"
        elif last.get("stopped"):
            result.status = "stopped"
            result.message = f"stopped early ({last['stopped']}) after {last['steps_done']} steps"
        else:
            result.status, result.message = "done", "trained"
        result.ok = result.adapter_dir is not None and not seen.cancelled
        return
    result.ok = False
    if seen.timed_out:
        result.status = "timeout"
        result.message = "the trainer ran past its deadline and was killed"
    elif seen.cancelled:
        result.status = "cancelled"
        result.message = "cancelled" + (f": {last['message']}" if last else "")
    elif last is not None:
        result.status = "error"
        result.message = last.get("message", "the trainer failed")
    else:
        result.status = "error"
        result.message = result.message or _crash_message(result.returncode, log_path)
