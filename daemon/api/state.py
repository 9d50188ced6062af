"""What the API handlers share: the config, the database, the runtime and the embedder."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import sqlite_utils
from fastapi import Depends, Request

from cove.daemon import __version__
from cove.daemon.config import Config
from cove.daemon.ops.netguard import NetworkGuard
from cove.daemon.runtime import Runtime
from cove.daemon.store.db import ThreadConnections
from cove.index.embedder import Embedder

if TYPE_CHECKING:
    from pathlib import Path

    from cove.daemon.answer.pipeline import Assistant
    from cove.daemon.answer.retrieve import Retriever
    from cove.daemon.ingest.queue import Indexer
    from cove.daemon.learn.training import TrainingService
    from cove.daemon.scheduler import TrainingScheduler

INDEX_KEYS = (
    "state",
    "files",
    "chunks",
    "queued",
    "in_progress",
    "failed",
    "current_file",
    "embedded_total",
    "ingests_total",
    "paused_reason",  # null, or why indexing waits (e.g. no space left on device)
)


@dataclass
class DaemonState:
    config: Config
    db: sqlite_utils.Database
    runtime: Runtime
    embedder: Embedder
    token: str
    guard: NetworkGuard | None = None
    indexer: Indexer | None = None
    retriever: Retriever | None = None
    assistant: Assistant | None = None
    training: TrainingService | None = None
    scheduler: TrainingScheduler | None = None
    started_at: float = field(default_factory=time.time)
    pid: int = field(default_factory=os.getpid)
    version: str = __version__
    _connections: ThreadConnections | None = field(default=None, init=False, repr=False)

    def connection(self) -> sqlite_utils.Database:
        """cove.db for the calling thread. Routes that block are plain `def`, run on
        FastAPI's thread pool, several at once: each thread has its own connection, so one
        request's transaction never takes in another's statements (`db` is the event
        loop's, which the answer pipeline uses)."""
        if self._connections is None:
            self._connections = ThreadConnections(self.config.paths.db)
        return self._connections.get()

    def get_assistant(self) -> Assistant:
        """The answer pipeline the lifecycle owner built (serve.build_assistant)."""
        if self.assistant is None:
            raise RuntimeError("the daemon state has no assistant: build it with build_assistant")
        return self.assistant

    @property
    def teach_folder(self) -> Path:
        return self.config.teach_folder

    def adapter_list(self) -> list[dict]:
        """The registry for `cove adapters list`, each flagged if trained on removed data
        (full probe details are left to the single-adapter route)."""
        from cove.daemon.learn.adapters import list_adapters
        from cove.daemon.learn.examples import removed_sources

        db = self.connection()
        found = list_adapters(db, removed=removed_sources(db))
        for adapter in found:
            adapter["metrics"] = {
                k: v for k, v in adapter["metrics"].items() if k != "probe_details"
            }
        return found

    def forget_removed(self) -> int:
        """Drop examples built from deleted sources from the stored training datasets."""
        from cove.daemon.learn.examples import scrub_stored_datasets

        return scrub_stored_datasets(self.connection(), self.config.paths.training)

    def training_status(self, limit: int = 10) -> dict:
        """The `cove train status --json` document."""
        schedule = self.scheduler.info() if self.scheduler else {"enabled": False}
        runs = self.training.runs(limit) if self.training else []
        scheduled = [run for run in runs if run["trigger"] == "schedule"]
        schedule["last_run"] = scheduled[0]["started_at"] if scheduled else None
        adapters = self.adapter_list()
        return {
            "available": self.training is not None,
            "run": self.training.current() if self.training else None,
            "runs": runs,
            "schedule": schedule,
            "conditions": self.training.conditions() if self.training else None,
            "adapters": adapters,
            "active_adapter": next((a["id"] for a in adapters if a["active"]), None),
            "teach_folder": str(self.teach_folder),
        }

    def index_status(self) -> dict:
        if self.indexer is None:
            return {key: 0 for key in INDEX_KEYS} | {
                "state": "idle",
                "current_file": None,
                "paused_reason": None,
            }
        status = self.indexer.status()
        return {key: status[key] for key in INDEX_KEYS}

    def status(self) -> dict:
        """The `cove status --json` document (shape fixed in design.md)."""
        backend = self.runtime.backend
        return {
            "pid": self.pid,
            "port": self.config.port,
            "uptime_s": round(time.time() - self.started_at, 1),
            "version": self.version,
            "model": backend.model_id,
            "adapter": backend.adapter,
            "index": self.index_status(),
            "runtime": self.runtime.stats(),
            "embeddings": {
                "model": self.embedder.name,
                "dimension": self.embedder.dimension,
                "max_seq_length": self.embedder.max_seq_length,
            },
            "offline": {
                "blocking": bool(self.guard and self.guard.block),
                "violations": self.guard.violations if self.guard else 0,
            },
            "home": str(self.config.paths.home),
        }


def get_state(request: Request) -> DaemonState:
    """The daemon's state, as a FastAPI dependency: a route takes `state: CoveState`."""
    return request.app.state.cove


CoveState = Annotated[DaemonState, Depends(get_state)]
