"""The learned path: when neither documents nor memories answer, the active adapter may,
if it was trained on a question close to this one.

The decision is a measured similarity (the embedder's cosine between the question and the
adapter's training questions, `[chat] learned_min`, chosen with bench/routing.py), never
the model's opinion. An example whose sources are all gone (the memory forgotten, the
correction cleared) does not route, though the adapter still holds it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from cove.daemon.answer.evidence import Embed, cosine
from cove.daemon.config import Config

# The adapter's training questions: [{"question", "target", "digest", "provenance"}].
Questions = Callable[[str], list[dict]]
# Whether one provenance entry's source is gone (`training_sources.source_gone`).
Gone = Callable[[dict], bool]
# A fresh `Gone` for each question: it reads the teach files once, as they are now.
GoneNow = Callable[[], Gone]


@dataclass(frozen=True)
class LearnedMatch:
    """The training question closest to the one asked, and how close."""

    adapter_id: str
    question: str
    similarity: float

    def as_dict(self) -> dict:
        return {
            "adapter": self.adapter_id,
            "question": self.question,
            "similarity": round(self.similarity, 4),
        }


class LearnedRouter:
    """Finds the active adapter's closest training question; vectors are kept per adapter."""

    def __init__(self, questions: Questions, embed: Embed, gone: GoneNow) -> None:
        self._questions = questions
        self._embed = embed
        self._gone = gone
        self._lock = threading.Lock()
        self._cache: dict[str, list[tuple[dict, list[float]]]] = {}

    def match(self, adapter_path: str | None, question: str, bar: float) -> LearnedMatch | None:
        """The closest live training question of the adapter at `adapter_path` if its
        similarity reaches `bar`; None otherwise (no adapter, no questions, too far)."""
        if not adapter_path or bar <= 0:
            return None
        adapter_id = adapter_id_of(adapter_path)
        trained = self._trained(adapter_id)
        if not trained:
            return None
        (vector,) = self._embed([question])
        scored = sorted(
            ((cosine(vector, v), row) for row, v in trained), key=lambda p: p[0], reverse=True
        )
        gone = self._gone()
        for similarity, row in scored:
            if similarity < bar:
                return None
            if not _forgotten(row, gone):
                return LearnedMatch(adapter_id, row["question"], similarity)
        return None

    def _trained(self, adapter_id: str) -> list[tuple[dict, list[float]]]:
        with self._lock:
            if adapter_id not in self._cache:
                rows = [r for r in self._questions(adapter_id) if r.get("question")]
                vectors = self._embed([r["question"] for r in rows]) if rows else []
                self._cache[adapter_id] = list(zip(rows, vectors, strict=True))
            return self._cache[adapter_id]


def _forgotten(row: dict, gone: Gone) -> bool:
    """Every source of the example is gone (one left, e.g. a correction, keeps it)."""
    provenance = row.get("provenance") or []
    return bool(provenance) and all(gone(entry) for entry in provenance)


def adapter_id_of(adapter_path: str) -> str:
    """The registry id of a loaded adapter: its file lies in `adapters/<id>/`."""
    return Path(adapter_path).parent.name


def learned_router(config: Config, db: sqlite_utils.Database, embed: Embed) -> LearnedRouter:
    """The router over the adapter registry of `config` and the sources in `db`."""
    from cove.daemon.learn.adapters import training_questions
    from cove.daemon.learn.examples import source_gone

    return LearnedRouter(
        lambda adapter_id: training_questions(config, adapter_id), embed, lambda: source_gone(db)
    )
