"""Cove's general sets: how far an adapter drifted from its base, and what keeps it close.

Personal facts are made-up names the base model cannot know, so a loss on facts it never
saw says nothing about the adapter. What fine-tuning can break is everything else the
model did before: that is measured on a fixed held-out set that ships with Cove,
`data/general.jsonl`, the default chat model's own greedy answers to ~165 varied everyday
prompts (`data/general_prompts.txt`). Each row is rendered through the tokenizer's chat
template exactly like a training row; the drift of an adapter is its mean answer-token
loss on those rows minus the base model's, in nats per token. Positive: the adapter finds
the base's own answers less likely than the base does.

What keeps the drift small is the replay set, `data/replay.jsonl`: the same model's
answers to 130 other everyday prompts (`data/replay_prompts.txt`, none shared with the
held-out set), mixed into every training step. Measured on 20 made-up facts: without it
the general drift reached +0.53 nats/token by the time the facts were learned (epoch 8) and
the general answers took the facts' one-line "Your X is Y" form ("Your sky is blue
because…"); with two replay rows a step they were learned by epoch 11 and the drift was
-0.16 (`bench/learning.py`).

Both sets are written by `bench/make_general.py`. An answer cut at the generation limit is
scored without its end-of-turn token: the model never produced one there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from cove.finetune.batches import RowScore
from cove.finetune.dataset import Example, render

DATA = Path(str(resources.files("cove.finetune").joinpath("data")))
PROMPTS_FILE = DATA / "general_prompts.txt"
GENERAL_FILE = DATA / "general.jsonl"
REPLAY_PROMPTS_FILE = DATA / "replay_prompts.txt"
REPLAY_FILE = DATA / "replay.jsonl"


def read_prompts(path: Path = PROMPTS_FILE) -> list[tuple[str, str]]:
    """(category, prompt) pairs: one prompt a line under `## category` headings."""
    prompts, category = [], ""
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("## "):
            category = line[3:].strip()
        elif line and not line.startswith("#"):
            prompts.append((category, line))
    return prompts


def read_general(path: Path = GENERAL_FILE) -> list[dict]:
    """The rows of a general set (held-out or replay): `{category, question, answer, cut,
    system}`."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def render_general(tokenizer, path: Path = GENERAL_FILE) -> list[dict]:
    """The general set as training rows (`dataset.render`), each with its `category`.

    Each row keeps the system prompt its answer was generated with, so the base's own
    answer is scored in the context that produced it.
    """
    rows = []
    for item in read_general(path):
        example = Example(
            prompt=[{"role": "user", "content": item["question"]}],
            target=item["answer"],
            kind="general",
            system=item.get("system") or None,
        )
        row = render(example, tokenizer) | {"category": item.get("category", "")}
        if item.get("cut"):
            end = row["completion"].rfind(item["answer"])
            if end >= 0:
                row["completion"] = row["completion"][: end + len(item["answer"])]
        rows.append(row)
    return rows


def spread_subset(rows: Sequence[dict], size: int) -> list[int]:
    """Indices of `size` rows taken in turn from each category (in file order): a small
    sample of the set that still covers every kind of prompt, the same every time."""
    by_category: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_category.setdefault(row.get("category", ""), []).append(i)
    queues = list(by_category.values())
    subset: list[int] = []
    while len(subset) < min(size, len(rows)):
        for queue in queues:
            if queue and len(subset) < size:
                subset.append(queue.pop(0))
    return subset


def rows_digest(rows: Sequence[dict]) -> str:
    """A name for exactly these rendered rows (what a cached base loss was computed on)."""
    texts = [[row["prompt"], row["completion"]] for row in rows]
    return hashlib.sha256(json.dumps(texts, ensure_ascii=False).encode()).hexdigest()[:16]


def write_general(tokenizer, out_dir: Path, path: Path = GENERAL_FILE) -> Path:
    """Render a general set (`path`: the held-out set or the replay set) into `out_dir`
    under the same file name (what the trainer reads)."""
    from cove.finetune.dataset import write_rows

    out = out_dir / path.name
    out_dir.mkdir(parents=True, exist_ok=True)
    write_rows(out, render_general(tokenizer, path))
    return out


def read_cached_scores(cache: Path | None, key: str) -> list[RowScore] | None:
    """The base model's row scores stored under `key` in `cache`, or None."""
    if cache is None:
        return None
    try:
        data = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    try:
        return [RowScore(*entry) for entry in data["scores"]]
    except (KeyError, TypeError):
        return None


def write_cached_scores(cache: Path | None, key: str, scores: Sequence[RowScore]) -> None:
    """Keep the base's scores for the next run (one entry: the base in use)."""
    if cache is None:
        return
    entries = [[s.loss_sum, s.tokens, s.greedy, s.worst] for s in scores]
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_name(cache.name + ".tmp")
    tmp.write_text(json.dumps({"key": key, "scores": entries}) + "\n", encoding="utf-8")
    tmp.replace(cache)
