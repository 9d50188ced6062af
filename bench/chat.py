"""Chat speed through Cove's API (SSE) against raw llama-cpp-python, measured in one run.

Both sides run the same model, prompt, threads, context, max_tokens and greedy sampling.
They take turns (never at once) for several rounds; each round uses a new prompt so the
prompt is evaluated afresh on both sides. Prints the medians and the ratios:

    tokens/s ratio  = API decode tokens/s / raw decode tokens/s   (target >= 0.95)
    TTFT added      = API time to first token - raw time to first token   (target <= 50 ms)

Writes bench/chat.json. Usage: python bench/chat.py [--rounds 5] [--max-tokens 128]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cove.daemon.runtime.models import default_gguf  # noqa: E402

from tests.support.daemon import start_daemon  # noqa: E402

PROMPT = "Write a detailed story about a lighthouse keeper, number {n}, and the sea."


def timed_tokens(chunks) -> dict:
    """Time to first token and decode tokens/s of an iterator of text pieces."""
    start = time.perf_counter()
    first = last = None
    count = 0
    for _ in chunks:
        last = time.perf_counter()
        first = first or last
        count += 1
    assert first is not None and count > 1, "no tokens generated"
    return {
        "ttft_ms": (first - start) * 1000,
        "tokens": count,
        "tokens_per_s": (count - 1) / (last - first),
    }


def raw_pieces(llm, prompt: str, max_tokens: int):
    stream = llm.create_chat_completion(
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        max_tokens=max_tokens,
        temperature=0,
        seed=0,
    )
    for part in stream:
        if part["choices"][0]["delta"].get("content"):
            yield part


def api_pieces(url: str, token: str, prompt: str, max_tokens: int):
    body = {
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        "max_tokens": max_tokens,
        "temperature": 0,
        "seed": 0,
    }
    with httpx.stream(
        "POST",
        f"{url}/v1/chat/completions",
        json=body,
        timeout=300,
        headers={"Authorization": f"Bearer {token}"},
    ) as response:
        for line in response.iter_lines():
            if (
                line.startswith("data: {")
                and '"content": "' in line
                and '"content": ""' not in line
            ):
                yield line


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--context", type=int, default=4096)
    args = parser.parse_args()

    from llama_cpp import Llama

    home = Path(tempfile.mkdtemp(prefix="cove-bench-"))
    config = f"[model]\ncontext = {args.context}\nthreads = {args.threads}\n"
    daemon = start_daemon(home, config=config)
    llm = Llama(
        model_path=str(default_gguf()),
        n_ctx=args.context,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        seed=0,
        verbose=False,
    )
    raw, api = [], []
    try:
        for side in (
            raw_pieces(llm, "warm up", 8),
            api_pieces(daemon.url, daemon.token, "warm up", 8),
        ):
            list(side)
        for n in range(args.rounds):
            prompt = PROMPT.format(n=n)
            raw.append(timed_tokens(raw_pieces(llm, prompt, args.max_tokens)))
            api.append(timed_tokens(api_pieces(daemon.url, daemon.token, prompt, args.max_tokens)))
    finally:
        daemon.stop()
        llm.close()

    def median(rows, key):
        return statistics.median(r[key] for r in rows)

    result = {
        "model": default_gguf().name,
        "threads": args.threads,
        "context": args.context,
        "max_tokens": args.max_tokens,
        "rounds": args.rounds,
        "raw": {"tokens_per_s": median(raw, "tokens_per_s"), "ttft_ms": median(raw, "ttft_ms")},
        "api": {"tokens_per_s": median(api, "tokens_per_s"), "ttft_ms": median(api, "ttft_ms")},
    }
    result["tokens_per_s_ratio"] = result["api"]["tokens_per_s"] / result["raw"]["tokens_per_s"]
    result["ttft_added_ms"] = result["api"]["ttft_ms"] - result["raw"]["ttft_ms"]
    (ROOT / "bench" / "chat.json").write_text(json.dumps(result, indent=2))
    print(
        f"raw llama-cpp-python: {result['raw']['tokens_per_s']:.1f} tok/s, "
        f"TTFT {result['raw']['ttft_ms']:.0f} ms"
    )
    print(
        f"Cove API (SSE):       {result['api']['tokens_per_s']:.1f} tok/s, "
        f"TTFT {result['api']['ttft_ms']:.0f} ms"
    )
    print(
        f"tokens/s ratio {result['tokens_per_s_ratio']:.3f} (target >= 0.95); "
        f"TTFT added {result['ttft_added_ms']:+.1f} ms (target <= 50 ms)"
    )


if __name__ == "__main__":
    main()
