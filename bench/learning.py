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
measures, and the adapter's answers to the probes.

Then what a user sees: with a watched folder of unrelated notes, every taught question is
asked in an ordinary grounded `cove ask` (not `--general`), once with the defaults (the
memories answer, cited) and once with `[chat] memories = false` (only the promoted adapter,
on the learned path, can answer). An answer counts when it holds the taught answer's own
words (`cove.finetune.scores.answer_match`, the gate's test). Writes bench/learning.json.

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

from cove.finetune.scores import answer_match  # noqa: E402
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


NOTES = {
    "bicycle-care.md": "# Bicycle care\n\nOil the chain every 300 km. Check tyre pressure "
    "weekly; road tyres want 6 to 8 bar.\n",
    "sourdough.md": "# Sourdough\n\nFeed the starter with equal weights of flour and water. "
    "Bake at 240 degrees for 20 minutes with the lid on, then 20 without.\n",
    "tomatoes.md": "# Growing tomatoes\n\nPinch out the side shoots of cordon varieties and "
    "water at the base, never the leaves.\n",
}
MEMORIES_OFF = "[chat]\nmemories = false\n"
ASK = ("--json", "--temperature", "0", "--seed", "1", "--max-tokens", "48")


def watch_notes(daemon: RunningDaemon, folder: Path) -> None:
    """A watched folder of notes that say nothing about the taught facts."""
    folder.mkdir(parents=True)
    for name, text in NOTES.items():
        (folder / name).write_text(text)
    for args in (("folders", "add", str(folder)), ("index", "wait", "--timeout", "300")):
        if daemon.cove(*args).returncode != 0:
            raise SystemExit(f"cove {' '.join(args)} failed")


def ask_all(daemon: RunningDaemon, facts: list[tuple[str, str]]) -> dict:
    """Each taught question in an ordinary grounded `cove ask`: answered right, and how."""
    rows = []
    for question, target in facts:
        done = daemon.cove("ask", question, *ASK)
        if done.returncode != 0:
            raise SystemExit(f"cove ask failed: {done.stderr}")
        reply = json.loads(done.stdout)
        rows.append(
            {
                "question": question,
                "answer": reply["answer"],
                "right": answer_match(reply["answer"], target, question),
                "mode": reply["timings"].get("answer_mode"),
                "learned": reply["learned"],
                "cited_memory": any(s.get("memory") for s in reply["sources"]),
            }
        )
    return {"right": sum(r["right"] for r in rows), "asked": len(rows), "answers": rows}


def chat_session(daemon: RunningDaemon, facts: list[tuple[str, str]]) -> dict:
    """The taught questions asked with the defaults, then with memories off."""
    defaults = ask_all(daemon, facts)
    daemon.stop()
    (daemon.home / "config.toml").write_text(MEMORIES_OFF)
    daemon.start()
    try:
        memories_off = ask_all(daemon, facts)
    finally:
        daemon.stop()
        (daemon.home / "config.toml").unlink()
        daemon.start()
    return {"defaults": defaults, "memories_off": memories_off}


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
            watch_notes(daemon, Path(tmp) / "notes")
            teach(daemon, FIRST_FOUR)
            runs.append(train(daemon, "4 facts, first run (HF base and general scores made)"))
            runs[-1]["chat"] = chat_session(daemon, FIRST_FOUR)
            runs.append(train(daemon, "4 facts, cached base"))
            teach(daemon, SIXTEEN_MORE)
            runs.append(train(daemon, "20 facts"))
            runs[-1]["chat"] = chat_session(daemon, FIRST_FOUR + SIXTEEN_MORE)
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
