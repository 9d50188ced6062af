"""Training data for personal fine-tuning, built from explicit inputs.

Sources, each an `Example` kind:

- `feedback`: answers the user rated up (the answer is the target);
- `correction`: answers the user corrected (the correction is the target);
- `teach`: Q&A files in the teach folder (`cove.finetune.teach`);
- `synthetic`: RAFT-style Q&A generated from indexed chunks (`cove.finetune.synthetic`),
  off unless the caller passes them.

Every example keeps its provenance (`{"kind": "feedback", "message_id", "session_id"}`,
`{"kind": "teach", "path", "line", "digest"}`, `{"kind": "synthetic", "chunk_ids",
"file_ids", "paths"}`), so deleting a file, a line of it, a session or a piece of feedback
can remove what was built from it (`cove.finetune.forget`). `Example.digest()` is the
stable name of what an example teaches; a rendered row's `id` is that digest.

`build_dataset` de-duplicates (same normalized prompt and target; the provenance of the
copies is merged into the one kept), renders each example through the tokenizer's chat
template, splits train and held-out deterministically and reports statistics.

Held-out rule: every fact the user taught is trained on. Only extra paraphrases are held
out: examples whose target is also the target of another example (questions asked another
way about one fact), never the last copy of a target. At most
`k = min(max_heldout, max(1, round(n * heldout_fraction)), n - 1)` are held out, chosen in
an order fixed by a hash of the seed and the example, so adding an example does not
reshuffle the others. Without paraphrases (or with `heldout_fraction=0`, or fewer than 2
examples) nothing is held out: the eval gate then judges on recall of the facts and on
drift from the base (`cove.finetune.drift`), not on a loss over facts never seen.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cove.finetune.examples import Example, normalize
from cove.finetune.teach import read_teach_folder

KINDS = ("teach", "correction", "feedback", "synthetic")
TRAIN_FILE, HELDOUT_FILE, STATS_FILE = "train.jsonl", "heldout.jsonl", "stats.json"


class DatasetError(ValueError):
    """The data cannot be rendered (e.g. a chat template that is not prefix-stable)."""


_CITATION = re.compile(r"\s*\[\d+(?:\s*[,-]\s*\d+)*\]")


def strip_citations(text: str) -> str:
    """`text` without source markers like [1], [2, 3] or [1-2]."""
    return _CITATION.sub("", text).strip()


def from_feedback(rows: Iterable[dict]) -> list[Example]:
    """Examples from rated-up and corrected answers.

    `rows` are what `cove.daemon.records.feedback.training_examples(db)` returns:
    `{message_id, session_id, question, answer, rating, correction, target, grounded}`.
    A correction is the user stating a fact, so corrected answers are probes too. A
    rated-up grounded answer loses its citation markers ("[1]"): the training prompt has
    no numbered sources for them to point to.
    """
    examples = []
    for row in rows:
        corrected = row.get("correction") is not None
        target = row["correction"] if corrected else row["answer"]
        if target and row.get("grounded") and not corrected:
            target = strip_citations(target)
        if not row.get("question") or not target or not target.strip():
            continue
        examples.append(
            Example(
                prompt=[{"role": "user", "content": row["question"].strip()}],
                target=target.strip(),
                kind="correction" if corrected else "feedback",
                provenance=[
                    {
                        "kind": "feedback",
                        "message_id": row["message_id"],
                        "session_id": row["session_id"],
                    }
                ],
                probe=corrected,
            )
        )
    return examples


def dedupe(examples: Iterable[Example]) -> tuple[list[Example], int]:
    """The first example of each key, with the provenance of its copies; and how many went."""
    kept: dict[tuple[str, str], Example] = {}
    dropped = 0
    for example in examples:
        key = example.key()
        if key in kept:
            first = kept[key]
            first.provenance = first.provenance + example.provenance
            first.probe = first.probe or example.probe
            dropped += 1
        else:
            kept[key] = Example(**{**example.__dict__, "provenance": list(example.provenance)})
    return list(kept.values()), dropped


def render(example: Example, tokenizer, system: str | None = None) -> dict:
    """A training row: the chat-template text split into prompt and completion.

    The completion is what the loss is computed on (the answer and the end-of-turn
    token); the prompt is masked. Both come from `tokenizer.apply_chat_template`, so the
    training text is the text the model sees when it answers.
    """
    system = example.system if example.system is not None else system
    head = [{"role": "system", "content": system}] if system else []
    messages = head + example.prompt + [{"role": "assistant", "content": example.target}]
    prompt = tokenizer.apply_chat_template(
        messages[:-1], tokenize=False, add_generation_prompt=True
    )
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    if not full.startswith(prompt):
        raise DatasetError(
            "the chat template does not render the prompt as a prefix of the conversation: "
            "the answer cannot be separated from the prompt"
        )
    prompt_tokens = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    tokens = len(tokenizer(full, add_special_tokens=False)["input_ids"])
    return {
        "id": example.digest(),
        "messages": messages,
        "prompt": prompt,
        "completion": full[len(prompt) :],
        "prompt_tokens": prompt_tokens,
        "tokens": tokens,
        "question": example.question,
        "target": example.target,
        "kind": example.kind,
        "probe": example.probe,
        "provenance": example.provenance,
    }


def _digest(key: object) -> str:
    return hashlib.sha256(json.dumps(key, ensure_ascii=False).encode()).hexdigest()


def split_heldout(
    rows: Sequence[dict], fraction: float = 0.1, max_heldout: int = 64, seed: int = 0
) -> tuple[list[dict], list[dict]]:
    """Train and held-out rows, following the rule in the module docstring."""
    n = len(rows)
    if n < 2 or fraction <= 0:
        return list(rows), []
    k = min(max_heldout, max(1, round(n * fraction)), n - 1)
    order = sorted(range(n), key=lambda i: _digest([seed, rows[i]["id"]]))
    copies = Counter(normalize(row["target"]) for row in rows)
    chosen: set[int] = set()
    for i in order:  # paraphrases only, never the last copy of a target
        target = normalize(rows[i]["target"])
        if len(chosen) < k and copies[target] > 1:
            chosen.add(i)
            copies[target] -= 1
    train = [row for i, row in enumerate(rows) if i not in chosen]
    heldout = [row for i, row in enumerate(rows) if i in chosen]
    return train, heldout


@dataclass
class Dataset:
    train: list[dict]
    heldout: list[dict]
    stats: dict

    def probes(self) -> list[dict]:
        """Rows marked as the user's facts (teach files, corrections), train and held-out."""
        return [row for row in self.train + self.heldout if row["probe"]]

    def provenance(self) -> list[dict]:
        """Every source the data came from (what a registry records with the adapter)."""
        return [entry for row in self.train + self.heldout for entry in row["provenance"]]

    def questions(self) -> list[dict]:
        """Every question the adapter was trained (`split` "train") or judged on
        ("heldout"), with its answer, digest (the row id) and provenance."""
        return [
            {
                "question": row["question"],
                "target": row["target"],
                "digest": row["id"],
                "provenance": row["provenance"],
                "split": split,
            }
            for split, rows in (("train", self.train), ("heldout", self.heldout))
            for row in rows
        ]


def build_dataset(
    tokenizer,
    feedback: Iterable[dict] = (),
    teach_folder: Path | None = None,
    extra: Iterable[Example] = (),
    system: str | None = None,
    heldout_fraction: float = 0.1,
    max_heldout: int = 64,
    max_tokens: int = 1024,
    seed: int = 0,
) -> Dataset:
    """Build, de-duplicate, render and split the training data.

    `feedback`: rows of `training_examples(db)`; `teach_folder`: the user's Q&A files;
    `extra`: further examples (e.g. `synthetic.raft_examples`). `system` is the system
    prompt the runtime answers with, so training matches serving. Examples longer than
    `max_tokens` are left out (counted in the stats).
    """
    teach_examples, problems = read_teach_folder(teach_folder) if teach_folder else ([], [])
    # Order sets which copy of a duplicate is kept: what the user wrote comes first.
    collected = teach_examples + from_feedback(feedback) + list(extra)
    read = Counter(example.kind for example in collected)
    examples, duplicates = dedupe(collected)
    rows, too_long = [], 0
    for example in examples:
        row = render(example, tokenizer, system)
        if row["tokens"] > max_tokens:
            too_long += 1
            continue
        rows.append(row)
    train, heldout = split_heldout(rows, heldout_fraction, max_heldout, seed)
    stats = dataset_stats(train, heldout)
    stats.update(
        read={kind: read.get(kind, 0) for kind in KINDS},
        duplicates_dropped=duplicates,
        too_long_dropped=too_long,
        problems=problems,
        system=system,
        seed=seed,
    )
    return Dataset(train, heldout, stats)


def dataset_stats(train: Sequence[dict], heldout: Sequence[dict]) -> dict:
    """Counts per source, token totals and split sizes of rendered rows."""
    rows = list(train) + list(heldout)
    kinds = Counter(row["kind"] for row in rows)
    lengths = [row["tokens"] for row in rows]
    return {
        "examples": len(rows),
        "by_kind": {kind: kinds.get(kind, 0) for kind in KINDS},
        "train": len(train),
        "heldout": len(heldout),
        "probes": sum(1 for row in rows if row["probe"]),
        "tokens": {
            "train": sum(row["tokens"] for row in train),
            "train_completion": sum(row["tokens"] - row["prompt_tokens"] for row in train),
            "heldout": sum(row["tokens"] for row in heldout),
            "max": max(lengths, default=0),
            "mean": round(sum(lengths) / len(lengths), 1) if lengths else 0,
        },
    }


def write_dataset(dataset: Dataset, out_dir: Path) -> dict[str, Path]:
    """Write train.jsonl, heldout.jsonl and stats.json into `out_dir`; returns their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "train": out_dir / TRAIN_FILE,
        "heldout": out_dir / HELDOUT_FILE,
        "stats": out_dir / STATS_FILE,
    }
    write_rows(paths["train"], dataset.train)
    write_rows(paths["heldout"], dataset.heldout)
    paths["stats"].write_text(json.dumps(dataset.stats, indent=2, ensure_ascii=False) + "\n")
    return paths


def write_rows(path: Path, rows: Iterable[dict]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    tmp.replace(path)


def read_rows(path: Path) -> list[dict]:
    """The rows of a JSONL file written by `write_dataset`."""
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
