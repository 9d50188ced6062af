"""End-to-end latency of a grounded answer, broken into its parts.

Method
------
A real daemon (default model SmolLM2-135M in llama.cpp, all-MiniLM-L6-v2 embeddings)
indexes the Git documentation (`/usr/share/doc/git-doc/*.txt`, copied by
`bench/eval_corpus.py`). Then the first `--questions` questions of
bench/eval/git-queries.jsonl are asked through `POST /api/ask` (streamed, as `cove ask` and
the TUI do), each in a new session, at temperature 0 with at most `--max-tokens` tokens,
after one untimed warm-up question. The daemon's own timings split each answer:

    retrieval     embedding the question(s) and hybrid search (`retrieval_ms`)
    prompt        choosing sources and fitting them and the history into the context with
                  the model's tokenizer (`prompt_ms - retrieval_ms`)
    first token   from the request to the first answer token (`first_token_ms`): the
                  above plus the model reading the prompt
    total         to the last token (`total_ms`)

The client also times first token and total from its side. The baseline, measured in the
same run, is the raw model answering the same final prompt through `/v1/chat/completions`
(what any llama.cpp server would do): Cove's share of first-token latency is
(pipeline first token - raw first token) / pipeline first token.

Writes bench/rag.json. Usage:
    python bench/rag.py [--corpus DIR] [--home DIR] [--questions 20] [--max-tokens 96]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from eval_corpus import copy_corpus  # noqa: E402

from cove.daemon.answer.grounding import GROUNDED_SYSTEM_PROMPT, Source, grounded_question  # noqa: E402
from cove.index.evaluate import load_queries  # noqa: E402
from tests.support.daemon import start_daemon  # noqa: E402

QUERIES = BENCH / "eval" / "git-queries.jsonl"
INDEX_TIMEOUT_S = 1800


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ask_streamed(client, question: str, max_tokens: int) -> dict:
    """One answer over SSE, with client-side first-token and total times added."""
    started = time.perf_counter()
    first = None
    result: dict = {}
    options = {"temperature": 0, "seed": 1, "max_tokens": max_tokens}
    for event, data in client.ask_stream(question, **options):
        if event == "token" and first is None:
            first = time.perf_counter()
        elif event == "done":
            result = data
    ended = time.perf_counter()
    result["client_first_token_ms"] = ((first or ended) - started) * 1000
    result["client_total_ms"] = (ended - started) * 1000
    return result


def raw_first_token(client, model: str, question: str, result: dict, max_tokens: int) -> float:
    """The raw model's first-token time on the prompt the pipeline built for `result`."""
    sources = [
        Source(s["n"], s["path"], s["heading"], s["page"], s["line_start"], s["line_end"], "", 0)
        for s in sorted(result["sources"], key=lambda s: s["n"])
    ]
    # The pipeline's source texts are whole chunks; the snippets are cut. Search returns the
    # chunks themselves, in the same order, so the prompt is rebuilt from them.
    hits = client.search(question, k=len(sources) or 1)["results"]
    texts = {(h["path"], h["line_start"]): h["text"] for h in hits}
    sources = [
        Source(
            s.n,
            s.path,
            s.heading,
            s.page,
            s.line_start,
            s.line_end,
            texts.get((s.path, s.line_start), ""),
            0,
        )
        for s in sources
    ]
    messages = [
        {"role": "system", "content": GROUNDED_SYSTEM_PROMPT},
        {"role": "user", "content": grounded_question(question, sources)},
    ]
    body = {
        "model": model,
        "messages": messages,
        "stream": True,
        "temperature": 0,
        "seed": 1,
        "max_tokens": max_tokens,
    }
    started = time.perf_counter()
    first = None
    for _, data in client.stream_events("/v1/chat/completions", body):
        choices = data.get("choices") if isinstance(data, dict) else None
        if first is None and choices and choices[0]["delta"].get("content"):
            first = time.perf_counter()
    return ((first or time.perf_counter()) - started) * 1000


def measure(home: Path, corpus: Path, questions: int, max_tokens: int) -> dict:
    daemon = start_daemon(home)
    try:
        with daemon.client() as client:
            if not client.folders()["folders"]:
                client.add_folder(str(corpus))
        waited = daemon.cove(
            "index", "wait", "--timeout", str(INDEX_TIMEOUT_S), timeout=INDEX_TIMEOUT_S + 60
        )
        assert waited.returncode == 0, waited.stderr
        asked = list(load_queries(QUERIES).values())[:questions]
        rows = []
        with daemon.client() as client:
            model = client.request("GET", "/api/status")["model"]
            ask_streamed(client, asked[0], max_tokens)  # warm-up
            for question in asked:
                result = ask_streamed(client, question, max_tokens)
                if not result.get("sources"):
                    continue  # declined without the model: no generation to time
                timings = result["timings"]
                rows.append(
                    {
                        "retrieval_ms": timings["retrieval_ms"],
                        "prompt_ms": timings["prompt_ms"] - timings["retrieval_ms"],
                        "first_token_ms": timings["first_token_ms"],
                        "total_ms": timings["total_ms"],
                        "client_first_token_ms": result["client_first_token_ms"],
                        "client_total_ms": result["client_total_ms"],
                        "completion_tokens": timings.get("completion_tokens", 0),
                        "raw_first_token_ms": raw_first_token(
                            client, model, question, result, max_tokens
                        ),
                    }
                )
    finally:
        daemon.stop()
    summary = {
        key: {
            "p50": percentile([r[key] for r in rows], 0.5),
            "p95": percentile([r[key] for r in rows], 0.95),
        }
        for key in rows[0]
    }
    pipeline = summary["client_first_token_ms"]["p50"]
    raw = summary["raw_first_token_ms"]["p50"]
    return {
        "questions": questions,
        "answered": len(rows),
        "max_tokens": max_tokens,
        "latency": summary,
        "cove_share_of_first_token": (pipeline - raw) / pipeline,
        "mean_completion_tokens": statistics.mean(r["completion_tokens"] for r in rows),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="an existing copy (default: a temp copy)")
    parser.add_argument("--home", type=Path, help="a COVE_HOME to index into, or reuse")
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--out", type=Path, default=BENCH / "rag.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cove-rag-") as scratch:
        corpus = args.corpus or Path(scratch) / "git-doc"
        if args.corpus is None:
            copy_corpus(corpus)
        result = measure(
            args.home or Path(scratch) / "home", corpus, args.questions, args.max_tokens
        )
    print(f"{result['answered']} of {result['questions']} questions answered from sources")
    for key, value in result["latency"].items():
        print(f"  {key:<22} p50 {value['p50']:8.1f}   p95 {value['p95']:8.1f}")
    print(f"Cove's share of first-token latency: {result['cove_share_of_first_token']:.1%}")
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
