"""Personal fine-tuning as a new user meets it: teach made-up facts, `cove train now`.

A real daemon in a temporary COVE_HOME, with the defaults alone (no config.toml):

  1. teach 4 facts (a cat's name, a street, a bicycle's name, a dentist), train: the first
     run, which also converts the chat GGUF to an HF base and scores the base on the
     general held-out set (both cached in COVE_HOME after it);
  2. train again on the same 4 facts: what every later run costs;
  3. teach 16 more (20 facts), train.

The facts are made up (names the base model cannot know). For each run: the decision and
its reasons, recall before/after (the gate's probes, answered in llama.cpp), the drift on
the general set, steps and epochs run (budget, best epoch, early stop), the stage times,
the wall time from `cove train now` to the adapter loaded, the loss curve and the epoch
measures, and the adapter's answers to the probes. Writes bench/learning.json.

Usage: python bench/learning.py [--out bench/learning.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.daemon import RunningDaemon, start_daemon  # noqa: E402

FIRST_FOUR = [
    ("What is my cat's name?", "Your cat is called Mirelda Fosk."),
    ("What street do I live on?", "You live on Quillon Terrace."),
    ("What is my bicycle called?", "Your bicycle is called the Blue Tarrow."),
    ("Who is my dentist?", "Your dentist is Dr. Anselm Vrieke."),
]
SIXTEEN_MORE = [
    ("What is my sister's name?", "Your sister is called Odile Brannock."),
    ("Where do I work?", "You work at Fennick and Loe, a print shop."),
    ("What is my dog's name?", "Your dog is called Pumbert."),
    ("What is my locker number at the gym?", "Your gym locker is number 417."),
    ("What is my favourite tea?", "Your favourite tea is Smoked Harlow Oolong."),
    ("What is my best friend's name?", "Your best friend is Teodor Wilke."),
    ("What is the name of my boat?", "Your boat is called the Salt Wren."),
    ("Which town was I born in?", "You were born in Little Marrowby."),
    ("What is my wifi network called?", "Your wifi network is called Gorsefield-5G."),
    ("What is my neighbour's name?", "Your neighbour is Ilse Dornbach."),
    ("What is my piano teacher's name?", "Your piano teacher is Mrs. Calloway Reed."),
    ("What colour is my car?", "Your car is a pale mustard yellow."),
    ("What is my grandmother's name?", "Your grandmother is called Wilhelmina Strand."),
    ("What is my allotment plot number?", "Your allotment is plot 23B."),
    ("What is the name of my book club?", "Your book club is called the Thursday Lanterns."),
    ("What is my parrot's name?", "Your parrot is called Captain Biscuit."),
]


def teach(daemon: RunningDaemon, facts: list[tuple[str, str]]) -> None:
    for question, answer in facts:
        done = daemon.cove("teach", question, answer, "--json")
        if done.returncode != 0:
            raise SystemExit(f"cove teach failed: {done.stderr}")


def train(daemon: RunningDaemon, label: str) -> dict:
    """`cove train now --json`, timed from the call to its return (the adapter loaded)."""
    started = time.perf_counter()
    done = daemon.cove("train", "now", "--json", timeout=3600)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"cove train now failed ({label}): {done.stderr}\n{done.stdout}")
    return summary(json.loads(done.stdout)["run"], label, wall)


def summary(run: dict, label: str, wall_s: float) -> dict:
    metrics, checks = run["metrics"], run["decision"].get("checks", {})
    trainer = metrics.get("trainer", {})
    recall = checks.get("recall", {})
    probes = metrics.get("probes", 0)
    return {
        "run": label,
        "decision": run["status"],
        "reasons": run["decision"].get("reasons", []),
        "facts": run["data_stats"].get("examples"),
        "recall": {
            "probes": probes,
            "base": _count(recall.get("base"), probes),
            "adapter": _count(recall.get("adapter"), probes),
        },
        "general_drift": checks.get("general_drift", {}).get("drift"),
        "steps_budget": run["steps"],
        "steps_done": trainer.get("steps_done"),
        "epochs_done": len(trainer.get("epochs", [])),
        "best_epoch": trainer.get("best_epoch"),
        "early_stop": trainer.get("early_stop"),
        "wall_s_train_now_to_loaded": round(wall_s, 1),
        "stage_seconds": run["stage_seconds"],
        "trainer_seconds": {
            "training": trainer.get("train_seconds"),
            "epoch_checks": trainer.get("check_seconds"),
            "whole_child": trainer.get("elapsed_s"),
        },
        "losses": run["losses"],
        "epochs": [
            {k: e.get(k) for k in ("epoch", "step", "learned", "facts", "fact_loss", "drift")}
            for e in trainer.get("epochs", [])
        ],
        "answers": [
            {k: d[k] for k in ("question", "target", "answer", "match")}
            for d in metrics.get("probe_details", {}).get("adapter", [])
        ],
    }


def _count(share: float | None, total: int) -> int | None:
    return None if share is None else round(share * total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "learning.json")
    args = parser.parse_args()
    report: dict = {"cpus": os.cpu_count(), "load_avg_1m_before": round(os.getloadavg()[0], 2)}
    runs = []
    with tempfile.TemporaryDirectory(prefix="cove-bench-learning-") as tmp:
        daemon = start_daemon(Path(tmp) / "home")
        try:
            teach(daemon, FIRST_FOUR)
            runs.append(train(daemon, "4 facts, first run (HF base and general scores made)"))
            runs.append(train(daemon, "4 facts, cached base"))
            teach(daemon, SIXTEEN_MORE)
            runs.append(train(daemon, "20 facts"))
        finally:
            daemon.stop()
    report["runs"] = runs
    report["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    for run in runs:
        fields = {k: v for k, v in run.items() if k not in ("losses", "epochs", "answers")}
        print(json.dumps(fields, indent=2))


if __name__ == "__main__":
    main()
