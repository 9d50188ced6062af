"""What the API handlers share: the config, the database, the runtime and the embedder."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import sqlite_utils
from cove.daemon import __version__
from cove.daemon.config import Config
from cove.daemon.netguard import NetworkGuard
from cove.daemon.runtime import Runtime
from cove.index.embedder import Embedder


@dataclass
class DaemonState:
    config: Config
    db: sqlite_utils.Database
    runtime: Runtime
    embedder: Embedder
    token: str
    guard: NetworkGuard | None = None
    started_at: float = field(default_factory=time.time)
    pid: int = field(default_factory=os.getpid)
    version: str = __version__

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
            "index": {
                "state": "idle",
                "files": 0,
                "chunks": 0,
                "queued": 0,
                "in_progress": 0,
                "failed": 0,
                "current_file": None,
                "embedded_total": 0,
                "ingests_total": 0,
            },
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
