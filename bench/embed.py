"""Embedding backends head to head: torch (sentence-transformers) against onnx-int8.

Corpus: the PostgreSQL documentation from Debian's postgresql-doc-15 (as bench/ingest.py), cut
into exactly the chunks the daemon would embed (same loaders, chunker and token budget).

1. Export: the int8 export is made from scratch into a temp directory and timed (the daemon
   does this once per model, on first start with the backend).
2. Quality: both backends embed every chunk; per chunk the cosine between the two vectors
   (mean, min, 5th percentile), and whether each chunk's nearest other chunk is the same
   (top-1 agreement, and torch's top-1 within int8's top 3).
3. Speed, wall clock: the same batches (of the daemon's size) alternate between the backends
   for several rounds, on every core, so both see the same load from anything else on the
   machine; each batch keeps its fastest round, and chunks/s is over the sum of those times.
4. Speed, CPU time: the same with one thread per backend, timed by the thread's own CPU time,
   which other processes on a busy machine barely disturb (the steadier of the two figures).

    ratio = onnx-int8 chunks/s / torch chunks/s

Writes bench/embed.json. Usage: python bench/embed.py [--files 40] [--chunks 320] [--rounds 3]
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

from cove.index import onnx_embedder  # noqa: E402
from cove.index.embedder import default_model_path, load_embedder  # noqa: E402
from cove.index.onnx_embedder import OnnxEmbedder  # noqa: E402

BATCH = 32


def corpus_texts(files: int, chunks: int, count_tokens_embedder) -> list[str]:
    """The first `chunks` unique chunk texts of the first `files` pages."""
    pages = sorted(CORPUS.glob("*.html"))[:files]
    return embedded_texts(pages, count_tokens_embedder)[:chunks]


def quality(torch_vectors: np.ndarray, int8_vectors: np.ndarray) -> dict:
    cosines = (torch_vectors * int8_vectors).sum(axis=1)
    exact, quant = torch_vectors @ torch_vectors.T, int8_vectors @ int8_vectors.T
    np.fill_diagonal(exact, -2.0)
    np.fill_diagonal(quant, -2.0)
    top = exact.argmax(axis=1)
    top3 = np.argsort(-quant, axis=1)[:, :3]
    return {
        "cosine_mean": round(float(cosines.mean()), 4),
        "cosine_min": round(float(cosines.min()), 4),
        "cosine_p5": round(float(np.percentile(cosines, 5)), 4),
        "nn_top1_same": round(float((quant.argmax(axis=1) == top).mean()), 4),
        "nn_torch_top1_in_int8_top3": round(
            float(np.mean([t in row for t, row in zip(top, top3, strict=True)])), 4
        ),
    }


def speed(
    backends: dict[str, Callable[[list[str]], object]],
    texts: list[str],
    rounds: int,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, dict[str, float]]:
    """chunks/s per backend: batches alternate between backends; each keeps its best round."""
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


def single_thread_speed(torch_embedder, int8: OnnxEmbedder, texts: list[str], rounds: int):
    """As `speed`, one thread each, in CPU seconds of the calling thread."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = OnnxEmbedder(int8.path, int8.onnx_path, batch_size=BATCH, threads=1)
        backends = {"torch": torch_embedder.embed, "onnx-int8": one.embed}
        return speed(backends, texts, rounds, clock=time.thread_time)
    finally:
        torch.set_num_threads(threads)


def summary(timed: dict[str, dict[str, float]]) -> dict[str, object]:
    ratio = timed["onnx-int8"]["chunks_per_s"] / timed["torch"]["chunks_per_s"]
    return {"torch": timed["torch"], "onnx_int8": timed["onnx-int8"], "ratio": round(ratio, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--chunks", type=int, default=320)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"{CORPUS} is missing: apt-get install postgresql-doc-15")
    model = default_model_path()
    torch_embedder = load_embedder(model, "torch", batch_size=BATCH)
    with tempfile.TemporaryDirectory(prefix="cove-bench-embed-") as cache:
        print("exporting the int8 model from scratch…", flush=True)
        started = time.perf_counter()
        int8 = load_embedder(model, "onnx-int8", cache_dir=Path(cache), batch_size=BATCH)
        export_s = time.perf_counter() - started
        texts = corpus_texts(args.files, args.chunks, torch_embedder)
        print(f"quality: {len(texts)} chunks through both backends…", flush=True)
        torch_vectors = np.asarray(torch_embedder.embed(texts), dtype=np.float32)
        int8_vectors = np.asarray(int8.embed(texts), dtype=np.float32)
        print(f"speed: {args.rounds} alternating rounds on every core…", flush=True)
        wall = speed({"torch": torch_embedder.embed, "onnx-int8": int8.embed}, texts, args.rounds)
        print(f"speed: {args.rounds} alternating rounds on one thread (CPU time)…", flush=True)
        cpu = single_thread_speed(torch_embedder, int8, texts, args.rounds)
    result = {
        "corpus": str(CORPUS),
        "model": torch_embedder.name,
        "chunks": len(texts),
        "batch_size": BATCH,
        "threads": os.cpu_count(),
        "rounds": args.rounds,
        "recipe": onnx_embedder.RECIPE,
        "export_s": round(export_s, 1),
        "load_average_after": round(os.getloadavg()[0], 2),
        "wall_clock_all_cores": summary(wall),
        "cpu_time_one_thread": summary(cpu),
        "quality": quality(torch_vectors, int8_vectors),
    }
    (ROOT / "bench" / "embed.json").write_text(json.dumps(result, indent=2) + "\n")
    q = result["quality"]
    units = {"wall_clock_all_cores": "chunks/s", "cpu_time_one_thread": "chunks/CPU-s"}
    for key, unit in units.items():
        row = result[key]
        print(
            f"{key}: torch {row['torch']['chunks_per_s']:.1f}, onnx-int8 "
            f"{row['onnx_int8']['chunks_per_s']:.1f} {unit}; ratio {row['ratio']:.2f}"
        )
    print(f"export {result['export_s']:.0f} s (once per model)")
    print(
        f"cosine to torch: mean {q['cosine_mean']:.4f}, min {q['cosine_min']:.4f}, "
        f"p5 {q['cosine_p5']:.4f}; nearest neighbour same {q['nn_top1_same']:.1%}, "
        f"torch's within int8's top 3 {q['nn_torch_top1_in_int8_top3']:.1%}"
    )


if __name__ == "__main__":
    main()
