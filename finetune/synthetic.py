"""Retrieval-grounded synthetic Q&A from indexed chunks, RAFT style (off by default).

For an "oracle" chunk, a model writes a question the chunk answers and an answer from it;
the training prompt shows that chunk among distractor chunks (other files), in the
daemon's numbered-sources layout, and the target answers *and quotes the source*: the
quote is the chunk's sentence closest to the answer, copied verbatim, so the example
teaches citing whatever the generating model's quality. With `oracle_fraction < 1`,
some prompts leave the oracle out (RAFT's recipe: the model also learns the content).

The model is a callable `generate(messages) -> str` handed in (the daemon passes its
runtime); nothing here loads a model. So is `language_of(text) -> str | None` (the daemon
passes `cove.daemon.answer.language.question_language`): a chunk whose script names its
language (Korean, Japanese, ...) gets its question and answer asked for in that language,
and the training prompt ends as the daemon's grounded prompt does ("Answer in Korean."), so
what the adapter learns matches what it will be asked. Generating takes two model calls per example,
which is slow and weak with the tiny default model, so the daemon keeps this off unless
configured.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence

import sqlite_utils

from cove.finetune.dataset import Example

Generate = Callable[[list[dict]], str]
FormatPrompt = Callable[[str, Sequence[dict]], str]
LanguageOf = Callable[[str], str | None]

QUESTION_INSTRUCTIONS = (
    "Write one question that the following text answers. Reply with the question only."
)
ANSWER_INSTRUCTIONS = (
    "Answer the question using only the text below. Be concise: one or two sentences."
)
GROUNDED_SYSTEM = (
    "Answer only from the numbered sources given with the question, citing them like [1]."
)

LIVE_CHUNKS_SQL = """
SELECT c.id, c.text, c.heading, c.file_id, f.path
FROM chunks c JOIN files f ON f.id = c.file_id AND c.generation = f.generation
ORDER BY c.id
"""


def live_chunks(db: sqlite_utils.Database, min_chars: int = 150) -> list[dict]:
    """Chunks of the live index generation, with their file path: `{id, text, heading,
    file_id, path}`. Chunks shorter than `min_chars` make poor questions and are skipped."""
    rows = []
    for row in db.query(LIVE_CHUNKS_SQL):
        if len(row["text"]) < min_chars:
            continue
        heading = json.loads(row["heading"]) if row["heading"] else []
        rows.append({**row, "heading": heading})
    return rows


def sources_prompt(question: str, chunks: Sequence[dict]) -> str:
    """The default user message: numbered sources, then the question (the daemon's layout)."""
    blocks = []
    for n, chunk in enumerate(chunks, start=1):
        title = chunk["path"] + (" > " + " > ".join(chunk["heading"]) if chunk["heading"] else "")
        blocks.append(f"[{n}] {title}\n{chunk['text']}")
    return "Sources:\n\n" + "\n\n".join(blocks) + f"\n\nQuestion: {question}"


def sentences(text: str) -> list[str]:
    parts = re.split(r"(?<=[.!?])\s+|\n+", text)
    return [p.strip() for p in parts if len(p.strip()) > 3]


def best_quote(answer: str, text: str) -> str:
    """The sentence of `text` sharing the most words with `answer` (verbatim)."""
    words = set(re.findall(r"\w+", answer.lower()))
    candidates = sentences(text) or [text.strip()]
    return max(candidates, key=lambda s: len(words & set(re.findall(r"\w+", s.lower()))))


def in_language(instructions: str, language: str | None) -> str:
    """`instructions`, asking for `language` where one is named (None: as they are)."""
    return f"{instructions} Write it in {language}." if language else instructions


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else ""


def raft_examples(
    chunks: Sequence[dict],
    generate: Generate,
    max_examples: int = 50,
    distractors: int = 2,
    oracle_fraction: float = 0.8,
    seed: int = 0,
    format_prompt: FormatPrompt = sources_prompt,
    system: str = GROUNDED_SYSTEM,
    language_of: LanguageOf = lambda text: None,
) -> tuple[list[Example], list[dict]]:
    """Up to `max_examples` synthetic examples, and the problems met (`{chunk_id, reason}`).

    Distractors come from other files where there are any. Each example's provenance
    lists every chunk and file its prompt shows, so deleting any of them forgets it.
    """
    rng = random.Random(seed)
    oracles = list(chunks)
    rng.shuffle(oracles)
    examples: list[Example] = []
    problems: list[dict] = []
    for oracle in oracles[:max_examples]:
        language = language_of(oracle["text"])
        try:
            question = _one_line(
                generate(
                    [
                        {"role": "system", "content": in_language(QUESTION_INSTRUCTIONS, language)},
                        {"role": "user", "content": oracle["text"]},
                    ]
                )
            )
            if not question:
                raise ValueError("the model wrote no question")
            answer = generate(
                [
                    {"role": "system", "content": in_language(ANSWER_INSTRUCTIONS, language)},
                    {"role": "user", "content": f"{oracle['text']}\n\nQuestion: {question}"},
                ]
            ).strip()
            if not answer:
                raise ValueError("the model wrote no answer")
        except Exception as exc:  # one failed generation must not stop the rest
            problems.append({"chunk_id": oracle["id"], "reason": str(exc)})
            continue
        others = [c for c in chunks if c["file_id"] != oracle["file_id"]] or [
            c for c in chunks if c["id"] != oracle["id"]
        ]
        shown = rng.sample(others, min(distractors, len(others)))
        with_oracle = not shown or rng.random() < oracle_fraction
        if with_oracle:
            shown.append(oracle)
        rng.shuffle(shown)
        quote = best_quote(answer, oracle["text"])
        if with_oracle:
            n = shown.index(oracle) + 1
            target = f'{answer} [{n}]\n\nSource [{n}], {oracle["path"]}: "{quote}"'
        else:
            target = f'{answer}\n\nFrom {oracle["path"]}: "{quote}"'
        involved = shown if with_oracle else [*shown, oracle]
        asked_in = language_of(question)
        ask = f"\nAnswer in {asked_in}." if asked_in else ""
        examples.append(
            Example(
                prompt=[{"role": "user", "content": format_prompt(question, shown) + ask}],
                target=target,
                kind="synthetic",
                provenance=[
                    {
                        "kind": "synthetic",
                        "oracle_chunk_id": oracle["id"],
                        "chunk_ids": sorted(c["id"] for c in involved),
                        "file_ids": sorted({c["file_id"] for c in involved}),
                        "paths": sorted({c["path"] for c in involved}),
                    }
                ],
                probe=False,
                system=system,
            )
        )
    return examples, problems
