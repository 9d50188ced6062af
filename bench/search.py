"""Hybrid search latency at 100,000 chunks, without rerank; query embedding timed apart.

Indexing 100k chunks through the daemon would take the better part of an hour on this
machine, so the stores are built directly with the library code, from real text: PostgreSQL
documentation pages (postgresql-doc-15, in a seeded random order) are loaded and chunked
with Cove's own loaders and chunker (`load_document`, `chunk_document`, the daemon's chunk
size) until `--sample` chunks (default 3,000) are in hand, and those are embedded once with
the default all-MiniLM-L6-v2. The sample is then repeated to reach `--chunks` (default
100,000): copy k of a page is a file `copy-k/<page>` with the same chunk text; its vectors
get a small Gaussian perturbation (sigma 0.02 per dimension, cosine ~0.93 to the original,
re-normalized) so the HNSW graph is not built from exact duplicates. Each copy's vector is
stored under its own embedding hash in the `embeddings` cache (what MMR reads) and in Chroma
(HNSW, cosine), as the daemon would store them: a temp COVE_HOME with a migrated cove.db
(folder, file, chunk rows through `cove.index.manifest`, FTS5 kept by its triggers) and
Chroma in COVE_HOME/chroma.

Then, over 50 real questions about PostgreSQL, after one untimed warm-up pass, per query:

    embed     `embedder.embed([query])` (reported apart: the daemon's `embed_ms`), with
              torch's default threads as in the daemon, and again with one thread
    hybrid    `hybrid_search` with `SearchParams()`, the defaults the daemon's settings
              mirror (printed and saved; k 8, 50 candidates per retriever, weighted RRF,
              MMR if on), no rerank: the daemon's `search_ms`
    dense     the same with bm25_weight 0 (Chroma kNN + chunk lookup [+ MMR])
    bm25      the same with dense_weight 0 (FTS5 BM25 + chunk lookup [+ MMR])
    raw       Chroma's own kNN query on the collection (100 results, as Cove asks) and
              the FTS5 BM25 query (`bm25_search`, 50), the baseline: what the two
              retrievers cost before Cove's wrapper, fusion, lookups and MMR.

Prints p50 and p95 of each, and the ratio of hybrid to the raw baseline measured in the same
run. Target: hybrid p50 <= 25 ms at 100k chunks (query embedding excluded).
Writes bench/search.json. Usage: python bench/search.py [--chunks 100000] [--sample 3000]
       [--passes 2] [--home DIR (build there and keep, or reuse)]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cove.daemon.store import open_db  # noqa: E402
from cove.daemon.store.db import connect  # noqa: E402
from cove.index import manifest  # noqa: E402
from cove.index.chunking import Chunk, chunk_document, default_chunk_tokens, embed_text  # noqa: E402
from cove.index.document import LoadError, SkipFile  # noqa: E402
from cove.index.embedcache import text_hash  # noqa: E402
from cove.index.embedder import Embedder, default_model_path  # noqa: E402
from cove.index.keywords import bm25_search  # noqa: E402
from cove.index.loaders import load_document  # noqa: E402
from cove.index.search import SearchParams, hybrid_search  # noqa: E402
from cove.index.vectors import VectorStore, collection_name, persistent_client  # noqa: E402

PG_DOCS = Path("/usr/share/doc/postgresql-doc-15/html")
TARGET_P50_MS = 25.0
NOISE_SIGMA = 0.02
MAX_BYTES = 20_000_000
OVERLAP = 0.15  # the daemon's default index.chunk_overlap
CHROMA_BATCH = 5000

QUERIES = [
    "how do I create an index without locking the table",
    "difference between VACUUM and VACUUM FULL",
    "what does autovacuum do",
    "how to back up a database with pg_dump",
    "restore a dump with pg_restore in parallel",
    "point in time recovery with WAL archiving",
    "configure streaming replication standby",
    "what is MVCC in PostgreSQL",
    "transaction isolation levels serializable",
    "explain analyze output buffers",
    "when is a bitmap heap scan used",
    "create a GIN index for full text search",
    "tsvector and tsquery ranking",
    "jsonb containment operator",
    "json path query functions",
    "string functions to split a string",
    "regular expression match in SQL",
    "window functions row_number over partition",
    "common table expressions WITH RECURSIVE",
    "LATERAL join in FROM clause",
    "left outer join example with weather and cities",
    "create a foreign key constraint",
    "check constraints on a table",
    "partitioning a table by range",
    "create a materialized view and refresh it",
    "write a PL/pgSQL function with a loop",
    "exception handling in PL/pgSQL",
    "create a trigger that runs before insert",
    "grant privileges on a schema",
    "row level security policies",
    "pg_hba.conf authentication methods",
    "SSL connections to the server",
    "shared_buffers and work_mem settings",
    "random_page_cost planner cost constants",
    "checkpoint tuning and max_wal_size",
    "logical replication publication and subscription",
    "listen and notify asynchronous notifications",
    "advisory locks",
    "deadlock detection",
    "sequence functions nextval currval",
    "generate_series set returning function",
    "date and time arithmetic with intervals",
    "time zones in timestamp with time zone",
    "numeric types precision and scale",
    "arrays and the ANY operator",
    "COPY command to load a CSV file",
    "psql meta-commands to describe a table",
    "foreign data wrappers postgres_fdw",
    "statistics collector pg_stat_activity",
    "prepared statements PREPARE and EXECUTE",
]


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation between the closest ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def sample_chunks(
    embedder: Embedder, want: int, seed: int
) -> list[tuple[str, list[tuple[Chunk, str]]]]:
    """(page name, [(chunk, embedded text)]) for pages in a seeded order, until `want`."""
    pages = sorted(PG_DOCS.glob("*.html"))
    random.Random(seed).shuffle(pages)
    budget = default_chunk_tokens(embedder.max_seq_length)
    found: list[tuple[str, list[tuple[Chunk, str]]]] = []
    total = 0
    for page in pages:
        try:
            document = load_document(page, MAX_BYTES)
        except (SkipFile, LoadError):
            continue
        chunks = chunk_document(document, embedder.count_tokens, budget, overlap=OVERLAP)
        if not chunks:
            continue
        chunks = chunks[: want - total]
        found.append((page.name, [(c, embed_text(c, True)) for c in chunks]))
        total += len(chunks)
        if total >= want:
            break
    return found


def build(home: Path, embedder: Embedder, args: argparse.Namespace) -> dict:
    """Fill a temp COVE_HOME's cove.db and Chroma with `args.chunks` chunks; return timings."""
    timings: dict[str, float] = {}
    start = time.perf_counter()
    pages = sample_chunks(embedder, args.sample, args.seed)
    texts = [t for _, chunks in pages for _, t in chunks]
    timings["load_chunk_s"] = time.perf_counter() - start
    print(f"chunked {len(pages)} pages into {len(texts)} chunks", flush=True)

    start = time.perf_counter()
    base = np.asarray(embedder.embed(texts), dtype=np.float32)
    timings["embed_sample_s"] = time.perf_counter() - start
    print(f"embedded the sample in {timings['embed_sample_s']:.0f} s", flush=True)

    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    db = open_db(home / "cove.db")
    folder = manifest.add_folder(db, str(home / "docs"))
    store = VectorStore(
        persistent_client(str(home / "chroma")), collection_name(embedder.name, embedder.dimension)
    )
    model = embedder.name
    ids: list[int] = []
    file_ids: list[int] = []
    vectors: list[np.ndarray] = []
    cache_rows: list[tuple[str, str, bytes]] = []
    written = copy = 0
    while written < args.chunks:
        offset = 0
        for name, chunks in pages:
            if written >= args.chunks:
                break
            chunks = chunks[: args.chunks - written]
            rows = []
            for chunk, text in chunks:
                # Copy 0 keeps the real hash; later copies hash a variant, as distinct text
                # would, so each perturbed vector has its own cache row.
                digest = text_hash(text if copy == 0 else f"{text}\n[copy {copy}]")
                rows.append(
                    {
                        "text": chunk.text,
                        "heading": list(chunk.heading),
                        "page": chunk.page,
                        "line_start": chunk.line_start,
                        "line_end": chunk.line_end,
                        "embed_hash": digest,
                    }
                )
            block = base[offset : offset + len(chunks)]
            offset += len(chunks)
            if copy:
                block = block + rng.normal(0.0, NOISE_SIGMA, block.shape).astype(np.float32)
                block /= np.linalg.norm(block, axis=1, keepdims=True)
            path = str(home / "docs" / f"copy-{copy:03d}" / name)
            file_id = manifest.record_file(
                db, folder["id"], path, status="indexing", size=-1, mtime=-1
            )
            generation, chunk_ids = manifest.write_generation(db, file_id, rows)
            manifest.make_live(
                db,
                file_id,
                generation,
                size=1000,
                mtime=time.time(),
                content_hash=text_hash(f"{path}"),
                file_format="html",
                chunk_count=len(chunk_ids),
            )
            ids += chunk_ids
            file_ids += [file_id] * len(chunk_ids)
            vectors.append(block)
            cache_rows += [
                (r["embed_hash"], model, v.tobytes()) for r, v in zip(rows, block, strict=True)
            ]
            written += len(chunks)
        copy += 1
    db.execute("BEGIN IMMEDIATE")
    db.conn.executemany(
        "INSERT OR REPLACE INTO embeddings (hash, model, vector) VALUES (?, ?, ?)", cache_rows
    )
    db.execute("COMMIT")
    timings["sqlite_s"] = time.perf_counter() - start
    print(
        f"wrote {written} chunk rows ({copy} copies) and {len(cache_rows)} cached vectors "
        f"in {timings['sqlite_s']:.0f} s",
        flush=True,
    )

    start = time.perf_counter()
    matrix = np.concatenate(vectors)
    for at in range(0, len(ids), CHROMA_BATCH):
        end = at + CHROMA_BATCH
        store.add(ids[at:end], matrix[at:end], file_ids[at:end])
        if (at // CHROMA_BATCH) % 5 == 4:
            print(f"  chroma: {end}/{len(ids)} vectors", flush=True)
    timings["chroma_s"] = time.perf_counter() - start
    print(f"added {store.count()} vectors to Chroma in {timings['chroma_s']:.0f} s", flush=True)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    files = manifest.counts(db)["files"]
    db.close()
    return {
        "pages": len(pages),
        "sample_chunks": len(texts),
        "chunks": written,
        "copies": copy,
        "files": files,
        **timings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--sample", type=int, default=3000, help="real chunks embedded")
    parser.add_argument("--passes", type=int, default=2, help="timed passes over the queries")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--home",
        type=Path,
        help="build the stores in this folder and keep them; reuse them if built there before "
        "(to time changes to search without building again)",
    )
    args = parser.parse_args()

    home = args.home or Path(tempfile.mkdtemp(prefix="cove-bench-search-"))
    record = home / "bench-build.json"
    started = time.perf_counter()
    try:
        embedder = Embedder(default_model_path())
        if args.home and record.exists():
            built = json.loads(record.read_text())
            print(f"reusing the {built['chunks']} chunks built in {home}")
        else:
            home.mkdir(parents=True, exist_ok=True)
            built = build(home, embedder, args)
            built["build_s"] = time.perf_counter() - started
            record.write_text(json.dumps(built))
        # A fresh client and connection, as the daemon's retriever has after a start.
        store = VectorStore(
            persistent_client(str(home / "chroma")),
            collection_name(embedder.name, embedder.dimension),
        )
        # The baseline's Chroma: the collection's own query, without Cove's wrapper.
        collection = store.client.get_collection(store.name)
        db = connect(home / "cove.db")
        model = embedder.name
        hybrid = SearchParams()  # the daemon's defaults (SearchSettings) without rerank
        modes = {
            "hybrid": hybrid,
            "dense": replace(hybrid, bm25_weight=0.0),
            "bm25": replace(hybrid, dense_weight=0.0),
        }
        samples: dict[str, list[float]] = {
            k: [] for k in ("embed", "embed_1_thread", *modes, "raw_chroma", "raw_bm25", "raw_sum")
        }
        threads = torch.get_num_threads()
        hits_per_query: list[int] = []
        for timed_pass in range(args.passes + 1):  # pass 0 warms up and is not kept
            for query in QUERIES:
                start = time.perf_counter()
                vector = np.asarray(embedder.embed([query])[0], dtype=np.float32)
                row = {"embed": (time.perf_counter() - start) * 1000}
                # The same with one torch thread: on a busy 2-core machine the default
                # two-thread kernels wait at every op for the second core.
                torch.set_num_threads(1)
                start = time.perf_counter()
                embedder.embed([query])
                row["embed_1_thread"] = (time.perf_counter() - start) * 1000
                torch.set_num_threads(threads)
                for name, params in modes.items():
                    start = time.perf_counter()
                    hits = hybrid_search(db, store, model, query, vector, params)
                    row[name] = (time.perf_counter() - start) * 1000
                    if name == "hybrid":
                        hits_per_query.append(len(hits))
                start = time.perf_counter()
                collection.query(
                    query_embeddings=[vector],
                    n_results=hybrid.candidates * 2,
                    include=["distances"],
                )
                row["raw_chroma"] = (time.perf_counter() - start) * 1000
                start = time.perf_counter()
                bm25_search(db, query, hybrid.candidates)
                row["raw_bm25"] = (time.perf_counter() - start) * 1000
                row["raw_sum"] = row["raw_chroma"] + row["raw_bm25"]
                if timed_pass:
                    for key, value in row.items():
                        samples[key].append(value)
        db.close()
    finally:
        if not args.home:
            shutil.rmtree(home, ignore_errors=True)

    stats = {
        key: {"p50_ms": statistics.median(v), "p95_ms": percentile(v, 0.95)}
        for key, v in samples.items()
    }
    ratios = [h / b for h, b in zip(samples["hybrid"], samples["raw_sum"], strict=True)]
    result = {
        "build": built,
        "queries": len(QUERIES),
        "passes": args.passes,
        "samples": len(samples["hybrid"]),
        "params": {**dataclasses.asdict(hybrid), "rerank": None},
        "target_p50_ms": TARGET_P50_MS,
        "torch_threads": threads,
        "latency": stats,
        "hybrid_over_raw_p50": statistics.median(ratios),
        "min_hits": min(hits_per_query),
    }
    (ROOT / "bench" / "search.json").write_text(json.dumps(result, indent=2))
    took = f"in {built['build_s']:.0f} s" if built.get("build_s") else "(reused)"
    print(
        f"built {built['chunks']} chunks ({built['sample_chunks']} real, embedded once; "
        f"{built['files']} files) {took}"
    )
    labels = {
        "embed": "query embedding",
        "embed_1_thread": "  same, 1 thread",
        "hybrid": "hybrid search",
        "dense": "dense only",
        "bm25": "BM25 only",
        "raw_chroma": "raw Chroma kNN",
        "raw_bm25": "raw FTS5 BM25",
        "raw_sum": "raw sum (baseline)",
    }
    for key, label in labels.items():
        row = stats[key]
        print(f"  {label:<19} p50 {row['p50_ms']:6.1f} ms, p95 {row['p95_ms']:6.1f} ms")
    print(
        f"  params: k {hybrid.k}, {hybrid.candidates} candidates, weights dense "
        f"{hybrid.dense_weight} / BM25 {hybrid.bm25_weight}, MMR {hybrid.mmr_lambda}, no rerank"
    )
    p50 = stats["hybrid"]["p50_ms"]
    verdict = "meets" if p50 <= TARGET_P50_MS else "misses"
    print(
        f"hybrid p50 {p50:.1f} ms at {built['chunks']} chunks ({verdict} the target "
        f"<= {TARGET_P50_MS:.0f} ms; query embedding {stats['embed']['p50_ms']:.1f} ms on top); "
        f"{result['hybrid_over_raw_p50']:.2f}x the raw retrievers"
    )


if __name__ == "__main__":
    main()
