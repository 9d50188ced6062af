"""Indexing throughput of the whole pipeline against the raw encoder, in one run.

Corpus: the PostgreSQL documentation from Debian's postgresql-doc-15 (HTML, written by
people who are not us; `apt-get install postgresql-doc-15`). The Python documentation is
reserved for independent evaluation and is not used.

1. Pipeline: a real daemon in a temp COVE_HOME watches a copy of N files; the clock runs
   from `folders add` until the index is idle (load in the child process, chunk, embed,
   SQLite + FTS5 + Chroma writes). Gives files/s and chunks/s.
2. Baseline: after the daemon has stopped, the same embedding model in this process
   encodes exactly the texts the pipeline embedded (re-derived with the same loaders and
   chunker), in batches of the same size, on the same threads: raw encoder chunks/s.

    ratio = pipeline chunks/s / raw encoder chunks/s     (target >= 0.9)

The status is polled every `--poll-ms` (100 ms, as `cove index wait` polls): each poll is
an HTTP request and a SQL count in the daemon, which the encoder's two cores pay for. At
10 ms the polling cost about 0.1 of the ratio (0.85-0.89 against 0.94-0.99, same code), for
a clock no finer than 0.1 s in a run of minutes. The 1-minute load average before and after
each half is recorded: other work on the machine slows the half it overlaps.

`--backend` measures another embedder than the default (both halves use it).

Writes bench/ingest.json (bench/ingest-<backend>.json with --backend). Usage:
    python bench/ingest.py [--files 200] [--poll-ms 100] [--backend NAME]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cove.daemon.config import DEFAULT_EMBEDDING_BACKEND  # noqa: E402
from cove.index.chunking import chunk_document, default_chunk_tokens, embed_text  # noqa: E402
from cove.index.document import LoadError, SkipFile  # noqa: E402
from cove.index.embedder import Embedder, default_model_path, load_embedder  # noqa: E402
from cove.index.loaders import load_document  # noqa: E402
from tests.support.daemon import start_daemon  # noqa: E402

CORPUS = Path("/usr/share/doc/postgresql-doc-15/html")
BATCH = 32


def copy_corpus(target: Path, count: int) -> list[Path]:
    files = sorted(CORPUS.glob("*.html"))[:count]
    target.mkdir(parents=True)
    for path in files:
        shutil.copy(path, target / path.name)
    return sorted(target.iterdir())


def pipeline(folder: Path, home: Path, poll_s: float, backend: str) -> dict:
    daemon = start_daemon(home, f'[embeddings]\nbackend = "{backend}"\n')
    try:
        client = daemon.client()
        started = time.perf_counter()
        client.add_folder(str(folder))
        while True:
            status = client.index_status()
            if status["state"] == "idle":
                break
            time.sleep(poll_s)
        elapsed = time.perf_counter() - started
    finally:
        daemon.stop()
    return {
        "seconds": elapsed,
        "files": status["files"],
        "chunks": status["chunks"],
        "embedded": status["embedded_total"],
        "failed": status["failed"],
    }


def embedded_texts(files: list[Path], embedder: Embedder) -> list[str]:
    """The texts the pipeline embeds, derived the same way (unique: the cache dedupes)."""
    budget = default_chunk_tokens(embedder.max_seq_length)
    texts: dict[str, None] = {}
    for path in files:
        try:
            document = load_document(path, 20_000_000)
        except (SkipFile, LoadError):
            continue
        for chunk in chunk_document(document, embedder.count_tokens, budget):
            texts.setdefault(embed_text(chunk, True), None)
    return list(texts)


def raw_encoder(embedder: Embedder, texts: list[str]) -> dict:
    embedder.embed(texts[:BATCH])  # warm up
    started = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        embedder.embed(texts[start : start + BATCH])
    elapsed = time.perf_counter() - started
    return {"seconds": elapsed, "chunks": len(texts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--poll-ms", type=float, default=100.0)
    parser.add_argument("--backend", help=f"[embeddings] backend ({DEFAULT_EMBEDDING_BACKEND})")
    args = parser.parse_args()
    backend = args.backend or DEFAULT_EMBEDDING_BACKEND
    if not CORPUS.is_dir():
        sys.exit(f"{CORPUS} is missing: apt-get install postgresql-doc-15")
    work = Path(tempfile.mkdtemp(prefix="cove-bench-ingest-"))
    try:
        files = copy_corpus(work / "corpus", args.files)
        print(f"pipeline: indexing {len(files)} PostgreSQL doc pages…", flush=True)
        load = {"pipeline_before": os.getloadavg()[0]}
        piped = pipeline(work / "corpus", work / "home", args.poll_ms / 1000, backend)
        load["pipeline_after"] = os.getloadavg()[0]
        print("baseline: raw encoder on the same texts…", flush=True)
        embedder = load_embedder(
            default_model_path(),
            backend,
            cache_dir=work / "home" / "models" / "onnx",
            batch_size=BATCH,
        )
        texts = embedded_texts(files, embedder)
        load["raw_before"] = os.getloadavg()[0]
        raw = raw_encoder(embedder, texts)
        load["raw_after"] = os.getloadavg()[0]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "backend": backend,
        "corpus": str(CORPUS),
        "files": piped["files"],
        "chunks": piped["chunks"],
        "embedded": piped["embedded"],
        "failed": piped["failed"],
        "batch_size": BATCH,
        "poll_ms": args.poll_ms,
        "load_average_1m": {k: round(v, 2) for k, v in load.items()},
        "pipeline": {
            "seconds": piped["seconds"],
            "files_per_s": piped["files"] / piped["seconds"],
            "chunks_per_s": piped["embedded"] / piped["seconds"],
        },
        "raw_encoder": {
            "seconds": raw["seconds"],
            "chunks": raw["chunks"],
            "chunks_per_s": raw["chunks"] / raw["seconds"],
        },
    }
    result["ratio"] = result["pipeline"]["chunks_per_s"] / result["raw_encoder"]["chunks_per_s"]
    name = f"ingest-{args.backend}.json" if args.backend else "ingest.json"
    (ROOT / "bench" / name).write_text(json.dumps(result, indent=2))
    print(
        f"pipeline:    {result['pipeline']['files_per_s']:.2f} files/s, "
        f"{result['pipeline']['chunks_per_s']:.1f} chunks/s "
        f"({piped['files']} files, {piped['embedded']} chunks embedded, "
        f"{piped['seconds']:.1f} s)"
    )
    print(
        f"raw encoder: {result['raw_encoder']['chunks_per_s']:.1f} chunks/s "
        f"({raw['chunks']} chunks, {raw['seconds']:.1f} s)"
    )
    print(f"ratio {result['ratio']:.3f} (target >= 0.9)")


if __name__ == "__main__":
    main()
