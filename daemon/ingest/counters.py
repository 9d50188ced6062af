"""What the indexer has done and is doing, as `GET /api/index` and `cove index status` show it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Counters:
    embedded_total: int = 0
    ingests_total: int = 0
    chat_waits: int = 0  # times indexing held back (to read or embed) for chat
    embed_batches_total: int = 0
    reconciles_total: int = 0
    last_reconcile_ended: float = 0.0
    scanning: bool = False
    current_file: str | None = None
    errors: list[str] = field(default_factory=list)
    # While a repair or rebuild puts vectors back (every one after a change of embedding
    # model): (chunks done, chunks to do); None otherwise.
    restore: tuple[int, int] | None = None

    def restore_status(self) -> dict | None:
        """{"done", "total"} chunks while vectors are put back (re-embedded after a change
        of embedding model), else None."""
        restore = self.restore
        return None if restore is None else {"done": restore[0], "total": restore[1]}
