"""Forgetting: deleting a file, a session or a piece of feedback removes the training
examples built from it.

Every example carries its provenance (see `cove.finetune.dataset`). A dataset is rebuilt
from the live sources before each run, so deleted sources drop out of future training by
themselves; these functions handle what was already built or recorded: rows or Examples
in memory (`drop_examples_from`), a dataset written to disk (`forget_in_dataset`; the
`..._where` forms take any test of a provenance entry, e.g. the daemon's liveness), and
the provenance an adapter registry keeps (`provenance_matches`, `uses_sources`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from cove.finetune.dataset import (
    HELDOUT_FILE,
    STATS_FILE,
    TRAIN_FILE,
    Example,
    dataset_stats,
    read_rows,
    write_rows,
)

# Whether one provenance entry's source is gone (deleted, cleared, or asked to be forgotten).
Gone = Callable[[dict], bool]


def _rows_if_any(path: Path) -> list[dict]:
    return read_rows(path) if path.is_file() else []


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def provenance_matches(
    entry: dict,
    paths: Sequence[str] = (),
    session_ids: Sequence[str] = (),
    message_ids: Sequence[str] = (),
    chunk_ids: Sequence[int] = (),
) -> bool:
    """Whether one provenance entry came from any of the given sources.

    `paths` match teach files and indexed files, or any file under a given folder.
    """
    roots = [str(p) for p in paths]
    if entry.get("message_id") in message_ids or entry.get("session_id") in session_ids:
        return True
    if roots and entry.get("path") and _under(entry["path"], roots):
        return True
    if roots and any(_under(p, roots) for p in entry.get("paths", ())):
        return True
    return bool(chunk_ids) and bool(set(entry.get("chunk_ids", ())) & set(chunk_ids))


def uses_sources(
    provenance: Iterable[dict],
    paths: Sequence[str | Path] = (),
    session_ids: Sequence[str] = (),
    message_ids: Sequence[str] = (),
    chunk_ids: Sequence[int] = (),
) -> bool:
    """Whether any provenance entry (e.g. an adapter's, from its registry row) came from
    the given sources: that adapter learned from data that is now deleted."""
    roots = [str(p) for p in paths]
    return any(
        provenance_matches(entry, roots, session_ids, message_ids, chunk_ids)
        for entry in provenance
    )


def _matcher(
    paths: Sequence[str | Path],
    session_ids: Sequence[str],
    message_ids: Sequence[str],
    chunk_ids: Sequence[int],
) -> Gone:
    roots = [str(p) for p in paths]
    sessions, messages, chunks = list(session_ids), list(message_ids), list(chunk_ids)
    return lambda entry: provenance_matches(entry, roots, sessions, messages, chunks)


def drop_examples_where(rows: Iterable[dict | Example], gone: Gone) -> tuple[list, int]:
    """The rows (or Examples) left once the provenance entries `gone` says are gone are
    forgotten, and how many rows were removed.

    A row built from several copies (merged duplicates) loses only the gone provenance
    entries and stays while one of its sources remains.
    """
    kept, removed = [], 0
    for row in rows:
        provenance = row.provenance if isinstance(row, Example) else row["provenance"]
        left = [entry for entry in provenance if not gone(entry)]
        if not left:
            removed += 1
            continue
        if len(left) != len(provenance):
            if isinstance(row, Example):
                row = Example(**{**row.__dict__, "provenance": left})
            else:
                row = {**row, "provenance": left}
        kept.append(row)
    return kept, removed


def drop_examples_from(
    rows: Iterable[dict | Example],
    paths: Sequence[str | Path] = (),
    session_ids: Sequence[str] = (),
    message_ids: Sequence[str] = (),
    chunk_ids: Sequence[int] = (),
) -> tuple[list, int]:
    """Forget deleted sources: the rows (or Examples) left, and how many were removed
    (see `drop_examples_where`)."""
    return drop_examples_where(rows, _matcher(paths, session_ids, message_ids, chunk_ids))


def forget_in_dataset_where(out_dir: Path, gone: Gone) -> int:
    """Remove rows whose every source `gone` says is gone from a written dataset (its
    stats follow); returns how many.

    A non-zero count tells the caller that adapters trained on this dataset learned from
    data that is gone (the registry decides what to do with them).
    """
    removed = 0
    for name in (TRAIN_FILE, HELDOUT_FILE):
        path = out_dir / name
        if not path.is_file():
            continue
        rows, count = drop_examples_where(read_rows(path), gone)
        if count:
            write_rows(path, rows)
            removed += count
    if removed and (out_dir / STATS_FILE).is_file():
        stats = json.loads((out_dir / STATS_FILE).read_text())
        left = [_rows_if_any(out_dir / name) for name in (TRAIN_FILE, HELDOUT_FILE)]
        stats.update(dataset_stats(*left))
        stats["forgotten"] = stats.get("forgotten", 0) + removed
        (out_dir / STATS_FILE).write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    return removed


def forget_in_dataset(
    out_dir: Path,
    paths: Sequence[str | Path] = (),
    session_ids: Sequence[str] = (),
    message_ids: Sequence[str] = (),
    chunk_ids: Sequence[int] = (),
) -> int:
    """Remove rows built from the given deleted sources from a written dataset; returns
    how many (see `forget_in_dataset_where`)."""
    return forget_in_dataset_where(out_dir, _matcher(paths, session_ids, message_ids, chunk_ids))
