"""What the API handlers share: the config, the database, the runtime and the embedder."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlite_utils

from cove.daemon import __version__
from cove.daemon.config import Config
from cove.daemon.netguard import NetworkGuard
from cove.daemon.runtime import Runtime
from cove.index.embedder import Embedder

if TYPE_CHECKING:
    from cove.daemon.chat import Assistant
    from cove.daemon.indexer import Indexer
    from cove.daemon.retrieval import Retriever

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
    started_at: float = field(default_factory=time.time)
    pid: int = field(default_factory=os.getpid)
    version: str = __version__

    def get_assistant(self) -> Assistant:
        """The answer pipeline; built on first use where the daemon did not build one."""
        if self.assistant is None:
            from cove.daemon.chat import Assistant

            self.assistant = Assistant(
                self.db,
                self.runtime,
                self.retriever,
                self.config.chat,
                self.config.model.max_tokens,
            )
        return self.assistant

    def index_status(self) -> dict:
        if self.indexer is None:
            return {key: None if key == "current_file" else 0 for key in INDEX_KEYS} | {
                "state": "idle"
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
