"""The adapter registry: versions in COVE_HOME/adapters with their metrics and data
statistics, the active one, rollback, and hot-loading into the running model.

The active adapter is state (setting `adapter`, a path, read at start-up); the adapters
activated before it are kept (setting `adapter_history`) so that rollback can go back.

Beside each adapter.gguf, `questions.json` lists what it was trained and judged on:
`[{"question", "target", "digest", "provenance", "split"}]` (`training_questions`).
"""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from cove.daemon.config import Config
from cove.daemon.paths import CovePaths
from cove.daemon.runtime import Runtime
from cove.daemon.runtime.base import ModelLoadError
from cove.daemon.runtime.models import load_backend, resolve_model
from cove.daemon.store import get_setting, set_setting

JSON_COLUMNS = ("metrics", "data_stats", "provenance")
QUESTIONS_FILE = "questions.json"


class AdapterError(RuntimeError):
    """An adapter that cannot be activated, rolled back to or deleted."""


class AdapterNotFoundError(LookupError):
    pass


def new_adapter_id() -> str:
    return time.strftime("a_%Y%m%d-%H%M%S_") + uuid.uuid4().hex[:6]


def register(
    db: sqlite_utils.Database,
    *,
    adapter_id: str,
    run_id: str | None,
    path: Path,
    base_model: str,
    status: str,
    metrics: dict,
    data_stats: dict,
    provenance: list[dict],
    questions: list[dict] | None = None,
) -> dict:
    """Record an adapter file (already in COVE_HOME/adapters) and return its row.

    `questions` (what `Dataset.questions()` gives) are written to questions.json beside
    the file.
    """
    if questions is not None:
        text = json.dumps(questions, ensure_ascii=False, indent=1) + "\n"
        (path.parent / QUESTIONS_FILE).write_text(text, encoding="utf-8")
    db["adapters"].insert(
        {
            "id": adapter_id,
            "run_id": run_id,
            "created_at": time.time(),
            "path": str(path),
            "base_model": base_model,
            "status": status,
            "metrics": json.dumps(metrics),
            "data_stats": json.dumps(data_stats),
            "provenance": json.dumps(provenance),
        }
    )
    return get_adapter(db, adapter_id)


def get_adapter(db: sqlite_utils.Database, adapter_id: str) -> dict:
    rows = list(db.query("SELECT * FROM adapters WHERE id = ?", [adapter_id]))
    if not rows:
        raise AdapterNotFoundError(f"no adapter {adapter_id!r}: see `cove adapters list`")
    return _parsed(rows[0])


def training_questions(where: Config | CovePaths, adapter_id: str) -> list[dict]:
    """The questions adapter `adapter_id` was trained and judged on (its questions.json):
    `[{"question", "target", "digest", "provenance", "split"}]`; [] for an adapter without
    the file (trained before it was written) or an unknown one."""
    paths = where.paths if isinstance(where, Config) else where
    if not re.fullmatch(r"[\w.-]+", adapter_id) or adapter_id.strip(".") == "":
        return []
    try:
        data = json.loads((paths.adapters / adapter_id / QUESTIONS_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return []
    return data if isinstance(data, list) else []


def _parsed(row: dict) -> dict:
    return {**row, **{k: json.loads(row[k]) for k in JSON_COLUMNS}}


def active_path(db: sqlite_utils.Database) -> str | None:
    return get_setting(db, "adapter") or None


def list_adapters(
    db: sqlite_utils.Database, removed: Callable[[list[dict]], list[dict]] = lambda p: []
) -> list[dict]:
    """Newest first, each with `active` and `trained_on_removed_data` (from `removed`,
    which returns the provenance entries whose source no longer exists)."""
    active = active_path(db)
    out = []
    for row in db.query("SELECT * FROM adapters ORDER BY created_at DESC"):
        adapter = _parsed(row)
        gone = removed(adapter["provenance"])
        adapter["active"] = adapter["path"] == active
        adapter["trained_on_removed_data"] = bool(gone)
        adapter["removed_sources"] = len(gone)
        adapter.pop("provenance")
        out.append(adapter)
    return out


def activate(db: sqlite_utils.Database, runtime: Runtime, config: Config, adapter_id: str) -> dict:
    """Load the adapter into the running model. A broken file is refused and the adapter
    in use stays (the runtime swaps only once the new one loaded)."""
    adapter = get_adapter(db, adapter_id)
    current = runtime.backend.model_id
    if adapter["base_model"] != current:
        raise AdapterError(
            f"adapter {adapter_id} was trained for {adapter['base_model']}, but the model "
            f"in use is {current}: `cove models use {adapter['base_model']}` first"
        )
    _load(db, runtime, config, adapter["path"])
    previous = active_path(db)
    if previous and previous != adapter["path"]:
        history = get_setting(db, "adapter_history", []) + [previous]
        set_setting(db, "adapter_history", history[-20:])
    set_setting(db, "adapter", adapter["path"])
    return get_adapter(db, adapter_id) | {"active": True}


def rollback(db: sqlite_utils.Database, runtime: Runtime, config: Config) -> str | None:
    """Go back to the adapter active before the current one (or to none); returns its
    path. Adapters deleted since are skipped."""
    history: list[str] = list(get_setting(db, "adapter_history", []))
    while history and not Path(history[-1]).is_file():
        history.pop()
    target = history.pop() if history else None
    if target is None and active_path(db) is None:
        raise AdapterError("no adapter is active: nothing to roll back")
    _load(db, runtime, config, target)
    set_setting(db, "adapter_history", history)
    set_setting(db, "adapter", target or "")
    return target


def delete(db: sqlite_utils.Database, adapter_id: str) -> dict:
    """Remove an adapter's files and record; the active one cannot be deleted."""
    adapter = get_adapter(db, adapter_id)
    if adapter["path"] == active_path(db):
        raise AdapterError(
            f"adapter {adapter_id} is active: `cove adapters rollback` or activate another first"
        )
    shutil.rmtree(Path(adapter["path"]).parent, ignore_errors=True)
    db.execute("DELETE FROM adapters WHERE id = ?", [adapter_id])
    return {"deleted": adapter_id}


def _load(db: sqlite_utils.Database, runtime: Runtime, config: Config, path: str | None) -> None:
    name = get_setting(db, "model") or config.model.chat
    choice = resolve_model(name, config)
    try:
        runtime.swap(lambda: load_backend(choice, config, adapter=path))
    except ModelLoadError as exc:
        raise AdapterError(f"the adapter was refused, the one in use stays: {exc}") from exc


def ollama_name(adapter_id: str) -> str:
    """The default name of the Ollama model made from an adapter (Ollama's name rules)."""
    return re.sub(r"[^a-z0-9._-]+", "-", f"cove-{adapter_id}".lower())


def to_ollama(
    db: sqlite_utils.Database,
    config: Config,
    adapter_id: str,
    name: str | None = None,
    base: str | None = None,
) -> dict:
    """Create an Ollama model from the adapter's base with the adapter applied.

    `base` defaults to what the adapter was trained for: the chat GGUF itself (uploaded
    to Ollama as a blob) or, for an Ollama model, its name. Returns `{"model", "base",
    "status"}`; `model` is what `cove models use` takes.
    """
    from cove.finetune.export import ollama_create

    adapter = get_adapter(db, adapter_id)
    gguf = Path(adapter["path"])
    if not gguf.is_file():
        raise AdapterError(f"adapter {adapter_id} has no file at {gguf}")
    source = base or _ollama_base(adapter["base_model"], config)
    target = name or ollama_name(adapter_id)
    try:
        status = ollama_create(target, source, gguf, host=config.ollama.host)
    except Exception as exc:  # ollama raises its own errors and httpx's
        where = config.ollama.host
        raise AdapterError(f"Ollama at {where} did not create {target}: {exc}") from exc
    return {"model": f"ollama:{target}", "base": str(source), "status": status}


def _ollama_base(model_id: str, config: Config) -> str:
    try:
        choice = resolve_model(model_id, config)
    except ModelLoadError as exc:
        raise AdapterError(f"the adapter's base model is gone ({exc}): give a base") from exc
    return str(choice.path) if choice.path is not None else str(choice.ollama_name)
