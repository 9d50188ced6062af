"""What training learns from, seen from the daemon: the user's examples as they are now,
which of them the last run had not seen, and which sources of an adapter are gone.

Examples come from two live sources, read fresh for every run: feedback in cove.db (rated
up or corrected answers) and the teach folder. Deleting a session, a piece of feedback, a
teach file or one pair out of it therefore drops its examples from the next run by
itself; an adapter already trained on them is flagged by `removed_sources`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

import sqlite_utils

from cove.daemon.records.feedback import training_examples
from cove.finetune.dataset import Example, from_feedback
from cove.finetune.forget import Gone, forget_in_dataset_where
from cove.finetune.teach import read_teach_file, read_teach_folder

KEYS_FILE = "examples.json"
# Feedback that still makes a training example: rated up, or corrected.
LIVE_FEEDBACK = (
    "SELECT 1 FROM feedback WHERE message_id = ? AND (rating = 'up' OR correction IS NOT NULL)"
)


def current_examples(db: sqlite_utils.Database, teach_folder: Path) -> list[Example]:
    """Every example the user has given so far (before de-duplication)."""
    taught, _problems = read_teach_folder(teach_folder) if teach_folder.is_dir() else ([], [])
    return taught + from_feedback(training_examples(db))


def example_digest(example: Example) -> str:
    """A stable name for what an example teaches (its normalized prompt and answer)."""
    return example.digest()


def write_example_digests(run_dir: Path, examples: Iterable[Example]) -> None:
    """Remember what a run trained on, for counting new examples next time."""
    digests = sorted({example_digest(e) for e in examples})
    (run_dir / KEYS_FILE).write_text(json.dumps(digests) + "\n", encoding="utf-8")


def read_example_digests(run_dir: Path) -> set[str]:
    try:
        return set(json.loads((run_dir / KEYS_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return set()


def count_new_examples(examples: Iterable[Example], seen: set[str]) -> int:
    """How many distinct examples are not among `seen` (the last run's)."""
    return len({example_digest(e) for e in examples} - seen)


def source_gone(db: sqlite_utils.Database) -> Gone:
    """Whether a provenance entry's source no longer exists: feedback cleared or its
    message or session deleted, a teach file deleted or no longer holding the pair (entries
    with a `digest`; older ones go with their file only), or an indexed chunk gone.

    Teach files are read once per returned function: make one per listing or scrub."""
    held: dict[str, set[str]] = {}

    def exists(sql: str, value: object) -> bool:
        return bool(list(db.query(sql, [value])))

    def teach_gone(entry: dict) -> bool:
        path = Path(entry["path"])
        if not path.is_file():
            return True
        if "digest" not in entry:
            return False
        if entry["path"] not in held:
            examples, _problems = read_teach_file(path)
            held[entry["path"]] = {example.digest() for example in examples}
        return entry["digest"] not in held[entry["path"]]

    def gone(entry: dict) -> bool:
        kind = entry.get("kind")
        if kind == "feedback":
            return not exists(LIVE_FEEDBACK, entry["message_id"])
        if kind == "teach":
            return teach_gone(entry)
        if kind == "synthetic":
            chunk_ids = entry.get("chunk_ids", [])
            live = {
                row["id"]
                for row in db.query(
                    f"SELECT id FROM chunks WHERE id IN ({','.join('?' * len(chunk_ids))})",
                    chunk_ids,
                )
            }
            return len(live) < len(chunk_ids)
        return False

    return gone


def removed_sources(db: sqlite_utils.Database) -> Callable[[list[dict]], list[dict]]:
    """The provenance entries whose source is gone, for `adapters.list_adapters(removed=...)`."""
    gone = source_gone(db)
    return lambda provenance: [entry for entry in provenance if gone(entry)]


def scrub_stored_datasets(db: sqlite_utils.Database, training_dir: Path) -> int:
    """Remove examples built from deleted sources from every run's stored dataset (the
    copies kept for inspection); returns how many went. Adapters already trained on
    them stay, flagged by `removed_sources`."""
    gone = source_gone(db)
    return sum(
        forget_in_dataset_where(data_dir, gone) for data_dir in sorted(training_dir.glob("*/data"))
    )
