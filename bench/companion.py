"""What an English companion list would add to e5's search: issue 16's English target, priced.

e5-small (4-bit), Cove's default embedder, ranks the Git manual's English pages below
all-MiniLM-L6-v2 (`bench/retrieval-git.json`: dense 0.552 against 0.623), and fusion with
BM25 does not close the gap to the target (0.661). This measures, before anything is built,
what a second dense list from MiniLM-int8 (`[embeddings] backend = "onnx-int8"`'s model)
would give when fused with e5's and BM25's, and what its second embedding of every chunk
would cost.

Method. For each corpus of `bench/retrieval_sets.py` (git, ko, en), a real daemon with
today's defaults indexes it from scratch in a temporary COVE_HOME, and every question of the
sets over it is searched dense only and keyword only through `POST /api/search` (k 100; the
daemon keeps its 50 best candidates per list, as its own fusion does). After the daemon
stops, every live chunk of its `cove.db` is embedded with MiniLM-int8 as the daemon would
embed it (heading trail first; `cove.index.chunking.embed_text`), timed, and each question's
50 nearest chunks are found exactly. Then three fusions are scored file-level (nDCG@10, as
`cove eval retrieval`) with Cove's own `rrf` and the daemon's RRF k:

    two lists    e5 dense + BM25 (weight scaled by `script_share`): the daemon's fusion,
                 minus its exact-phrase rule (so it can differ from "daemon fused" a little)
    three lists  the same + MiniLM's list (weight 1) for questions mostly in Latin script
                 (MiniLM reads English only; Korean questions keep two lists)
    MiniLM alone

Cost: MiniLM-int8's chunks/s here, against e5's through the daemon (`index_s`, same run):
the share of ingest throughput a second embedding would leave.

Writes bench/companion.json. Usage:
    python bench/companion.py [--corpora git,ko,en] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from retrieval_sets import BASELINE, FIXED, SETS, index_corpus, load_set, make_corpus  # noqa: E402

from cove.daemon.config import load_config  # noqa: E402
from cove.daemon.store.db import connect  # noqa: E402
from cove.index.chunking import Chunk, embed_text  # noqa: E402
from cove.index.embedder import load_embedder  # noqa: E402
from cove.index.embedding_model import default_model_path  # noqa: E402
from cove.index.evaluate import ndcg_at  # noqa: E402
from cove.index.keywords import script_share, script_words  # noqa: E402
from cove.index.search import rrf  # noqa: E402
from tests.support.daemon import start_daemon  # noqa: E402

CANDIDATES = 50
LISTS = {"dense": {"bm25_weight": 0.0}, "bm25": {"dense_weight": 0.0}, "daemon": {}}


def mostly_latin(query: str) -> bool:
    """True when at least half of the query's words (numbers aside) are in Latin script."""
    scripts = [s for _, s in script_words(query) if s != "number"]
    return bool(scripts) and sum(s == "latin" for s in scripts) / len(scripts) >= 0.5


def searched(home: Path, corpus: Path, parts: list) -> tuple[dict, dict, int]:
    """Index `corpus` with today's defaults; each question's dense and keyword lists
    [(path, text)], the index figures and the daemon's RRF k."""
    daemon = start_daemon(home, config=BASELINE.config(FIXED))
    try:
        built = index_corpus(daemon, corpus)
        client = daemon.client()
        lists: dict[str, dict] = {}
        for name, queries, qrels in parts:
            for qid, text in queries.items():
                if qid not in qrels:
                    continue
                row: dict = {"set": name, "text": text, "qrels": qrels[qid]}
                for key, overrides in LISTS.items():
                    hits = client.search(text, k=100, mmr_lambda=1.0, **overrides)["results"]
                    row[key] = [(h["path"], h["text"]) for h in hits]
                lists[f"{name}:{qid}"] = row
    finally:
        daemon.stop()
    return lists, built, load_config(home).search.rrf_k


def live_chunks_of(home: Path) -> tuple[list[tuple[str, str]], list[str]]:
    """[(path, text)] of every live chunk, and the text the daemon would embed for each."""
    db = connect(home / "cove.db")
    rows = db.execute(
        "SELECT files.path, chunks.text, chunks.heading FROM chunks JOIN files ON "
        "files.id = chunks.file_id AND files.generation = chunks.generation"
    ).fetchall()
    db.close()
    keys = [(path, text) for path, text, _ in rows]
    texts = [
        embed_text(Chunk(text, tuple(json.loads(heading)), None, None, None, 0), True)
        for _, text, heading in rows
    ]
    return keys, texts


def file_order(ranked: list[tuple[str, str]], root: str) -> list[str]:
    seen: dict[str, None] = {}
    for path, _ in ranked:
        seen.setdefault(path[len(root) :], None)
    return list(seen)


def fuse(lists: list[tuple[list, float]], k: int) -> list:
    ids = {key: i for i, key in enumerate({key for ranked, _ in lists for key in ranked})}
    back = {i: key for key, i in ids.items()}
    scores = rrf([([ids[key] for key in ranked], w) for ranked, w in lists], k)
    return [back[i] for i in sorted(scores, key=lambda i: scores[i], reverse=True)]


def measure_corpus(kind: str, parts: list, tmp: Path, log) -> dict:
    corpus = make_corpus(kind, tmp / f"corpus-{kind}").resolve()
    home = tmp / f"home-{kind}"
    lists, built, rrf_k = searched(home, corpus, parts)
    log(f"{kind}: indexed {built}, {len(lists)} questions searched")
    keys, texts = live_chunks_of(home)
    minilm = load_embedder(default_model_path(), "onnx-int8", cache_dir=tmp / "onnx")
    started = time.perf_counter()
    vectors = np.asarray(minilm.embed(texts), dtype=np.float32)
    minilm_s = time.perf_counter() - started
    root = str(corpus) + "/"
    scores: dict[str, dict[str, list[float]]] = {}
    for row in lists.values():
        query = np.asarray(minilm.embed([row["text"]])[0], dtype=np.float32)
        nearest = [keys[i] for i in np.argsort(-(vectors @ query))[:CANDIDATES]]
        dense, bm25 = row["dense"][:CANDIDATES], row["bm25"][:CANDIDATES]
        bm25_weight = script_share(row["text"], [t for _, t in bm25])
        latin = mostly_latin(row["text"])
        rankings = {
            "daemon fused": row["daemon"],
            "e5 dense": dense,
            "two lists": fuse([(dense, 1.0), (bm25, bm25_weight)], rrf_k),
            "three lists": fuse(
                [(dense, 1.0), (nearest, 1.0 if latin else 0.0), (bm25, bm25_weight)], rrf_k
            ),  # fmt: skip
            "MiniLM alone": nearest,
        }
        per_set = scores.setdefault(row["set"], {})
        for name, ranked in rankings.items():
            per_set.setdefault(name, []).append(ndcg_at(file_order(ranked, root), row["qrels"], 10))
    e5_rate = built["chunks"] / built["index_s"]
    minilm_rate = len(texts) / minilm_s
    return {
        "index": built,
        "rrf_k": rrf_k,
        "e5_chunks_per_s_daemon": round(e5_rate, 2),
        "minilm_int8_chunks_per_s": round(minilm_rate, 2),
        # Both embeddings of every chunk, one after the other on the same cores.
        "ingest_share_left": round(1 / (1 + e5_rate / minilm_rate), 3),
        "ndcg@10": {
            s: {name: round(sum(v) / len(v), 4) for name, v in rows.items()}
            for s, rows in scores.items()
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", default="git,ko,en", help="of git, ko, en")
    parser.add_argument("--out", type=Path, default=BENCH / "companion.json")
    args = parser.parse_args(argv)
    jobs = {name: load_set(name) for name in SETS if name != "exact"}
    report: dict = {"candidates": CANDIDATES, "corpora": {}}
    with tempfile.TemporaryDirectory(prefix="cove-bench-companion-") as tmp:
        for kind in args.corpora.split(","):
            parts = [(n, q, r) for n, ps in jobs.items() for c, q, r in ps if c == kind]
            got = measure_corpus(kind, parts, Path(tmp), lambda m: print(m, flush=True))
            report["corpora"][kind] = got
            print(json.dumps(got, indent=1), flush=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
