"""Chat speed through Cove's API (SSE) against raw llama-cpp-python, measured in one run.

Both sides run the same model, prompt, threads, context, max_tokens and greedy sampling.
They take turns (never at once) for several rounds; each round uses a new prompt so the
prompt is evaluated afresh on both sides. Prints the medians, and the median over rounds
of the paired ratios:

    tokens/s ratio  = API decode tokens/s / raw decode tokens/s   (target >= 0.95)
    TTFT added      = API time to first token - raw time to first token   (target <= 50 ms)

Writes bench/chat.json. Usage: python bench/chat.py [--rounds 12] [--max-tokens 200]
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


def speed(start: float, times: list[float], tokens: int) -> dict:
    """Time to first token, and decode tokens/s after it."""
    assert len(times) > 1 and tokens > 1, "too few tokens generated"
    return {
        "ttft_ms": (times[0] - start) * 1000,
        "tokens": tokens,
        "tokens_per_s": (tokens - 1) / (times[-1] - times[0]),
    }


def run_raw(llm, prompt: str, max_tokens: int) -> dict:
    """Raw llama-cpp-python: one streamed chunk per token."""
    start, times = time.perf_counter(), []
    stream = llm.create_chat_completion(
        messages=[{"role": "user", "content": prompt}],
        stream=True,
        max_tokens=max_tokens,
        temperature=0,
    )
    for part in stream:
        if part["choices"][0]["delta"].get("content"):
            times.append(time.perf_counter())
    return speed(start, times, len(times))


def run_api(client: httpx.Client, prompt: str, max_tokens: int) -> dict:
    """Cove's API over SSE. An event may carry several tokens (Cove sends the first token
    at once, then what was generated every 20 ms), so the count comes from `usage`."""
    body = {
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
        "max_tokens": max_tokens,
        "temperature": 0,
    }
    start, times, tokens = time.perf_counter(), [], 0
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if not line.startswith("data: {"):
                continue
            chunk = json.loads(line[6:])
            if chunk["choices"][0]["delta"].get("content"):
                times.append(time.perf_counter())
            if chunk.get("usage"):
                tokens = chunk["usage"]["completion_tokens"]
    return speed(start, times, tokens)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--max-tokens", type=int, default=200)
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
    # One keep-alive connection, as a chat client holds; no seed on either side, since a
    # seeded request to Cove deliberately re-evaluates its prompt for reproducibility.
    client = httpx.Client(
        base_url=daemon.url, headers={"Authorization": f"Bearer {daemon.token}"}, timeout=300
    )
    raw, api = [], []
    try:
        run_raw(llm, "warm up", 8)
        run_api(client, "warm up", 8)
        for n in range(args.rounds):
            prompt = PROMPT.format(n=n)
            raw.append(run_raw(llm, prompt, args.max_tokens))
            api.append(run_api(client, prompt, args.max_tokens))
    finally:
        client.close()
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
    # Paired per round (same prompt, back to back), then the median: robust to drift.
    result["tokens_per_s_ratio"] = statistics.median(
        a["tokens_per_s"] / r["tokens_per_s"] for a, r in zip(api, raw, strict=True)
    )
    result["ttft_added_ms"] = statistics.median(
        a["ttft_ms"] - r["ttft_ms"] for a, r in zip(api, raw, strict=True)
    )
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
