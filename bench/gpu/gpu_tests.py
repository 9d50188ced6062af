"""The two gpu-marked tests of tests/finetune/test_unsloth.py, run as a script (the
project's pytest fixtures need the daemon's deps; their outputs were built beforehand)."""

import json
import shutil
import sys
import tarfile
import time
import traceback
from pathlib import Path

data, base, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
work = Path("/tmp/gpuwork")
shutil.rmtree(work, ignore_errors=True)
work.mkdir()
import cove.finetune  # noqa: E402 - after the work folder is made, as on the device
from cove.finetune.spec import TrainSpec  # noqa: E402 - after the work folder is made, as on the device
from cove.finetune.trainer import run_training  # noqa: E402 - after the work folder is made, as on the device

print("cove.finetune from", cove.finetune.__file__, flush=True)
summary = {}


def check(name, cond, detail=""):
    summary.setdefault("checks", []).append([name, bool(cond), str(detail)[:300]])
    print(("PASS " if cond else "FAIL ") + name, detail, flush=True)


def keep(tag, outdir):
    for f in ("train.log", "events.jsonl", "result.json"):
        p = outdir / f
        if p.is_file():
            shutil.copy(p, out / f"{tag}-{f}")


# test_unsloth_trains_an_adapter_the_gate_can_judge
events = []
spec = TrainSpec(
    base_dir=str(base),
    train_path=str(data / "facts/train.jsonl"),
    eval_path=str(data / "facts/heldout.jsonl"),
    general_path=str(data / "general/general.jsonl"),
    output_dir=str(work / "run1"),
    steps=30,
    learning_rate=1e-3,
    backend="unsloth",
    nice=0,
)
t = time.monotonic()


def on_event(e):
    events.append(e)
    print("EVENT", json.dumps(e)[:400], flush=True)


result = run_training(spec, on_event)
summary["test1_wall_s"] = round(time.monotonic() - t, 1)
summary["test1_result"] = result.to_dict()
keep("t1", work / "run1")
try:
    check("t1 result.ok", result.ok, result.message)
    check(
        "t1 start backend unsloth on cuda",
        bool(events)
        and events[0].get("backend") == "unsloth"
        and str(events[0].get("device")).startswith("cuda"),
        events[:1],
    )
    m = result.metrics
    check(
        "t1 eval_loss < base_eval_loss",
        m.get("eval_loss") is not None
        and m.get("base_eval_loss") is not None
        and m["eval_loss"] < m["base_eval_loss"],
        (m.get("eval_loss"), m.get("base_eval_loss")),
    )
    check("t1 peak_gpu_mb > 0", (m.get("peak_gpu_mb") or 0) > 0, m.get("peak_gpu_mb"))
    ep = [e["epoch"] for e in events if e["event"] == "epoch"]
    check("t1 epochs [:2] == [1, 2]", ep[:2] == [1, 2], ep)
    check("t1 best_epoch not None", m.get("best_epoch") is not None, m.get("best_epoch"))
    check("t1 general_drift not None", m.get("general_drift") is not None, m.get("general_drift"))
except Exception:
    traceback.print_exc()
    check("t1 checks ran", False, traceback.format_exc()[-300:])
if result.adapter_dir and Path(result.adapter_dir).is_dir():
    with tarfile.open(out / "adapter.tar", "w") as tf:
        tf.add(result.adapter_dir, arcname="adapter")

# test_auto_picks_unsloth_on_cuda
events2 = []
spec2 = TrainSpec(
    base_dir=str(base),
    train_path=str(data / "facts/train.jsonl"),
    output_dir=str(work / "run2"),
    steps=2,
    nice=0,
)
t = time.monotonic()
result2 = run_training(spec2, events2.append)
summary["test2_wall_s"] = round(time.monotonic() - t, 1)
summary["test2_result"] = result2.to_dict()
shutil.copy(work / "run2" / "train.log", out / "t2-train.log") if (
    work / "run2" / "train.log"
).is_file() else None
check(
    "t2 auto picks unsloth", bool(events2) and events2[0].get("backend") == "unsloth", events2[:1]
)
check("t2 (extra) result.ok", result2.ok, result2.message)
(out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
print(json.dumps({k: v for k, v in summary.items() if k != "checks"}, default=str)[:3000])
print("FAILED CHECKS:", [c[0] for c in summary["checks"] if not c[1]])
