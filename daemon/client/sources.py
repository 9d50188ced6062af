"""How a source of an answer or a search hit reads, wherever it is shown (CLI, TUI, MCP,
session export, the prompt): one place, so they all say the same.

A source is the API's dict (`page`, `line_start`, `line_end`, `cited`, ...). Pages count from
1 (the loaders number PDF pages and slides so); a source with a page is located by it alone.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

NOT_CITED = "(not cited)"


def place(page: int | None, line_start: int | None, line_end: int | None) -> str:
    """'page 3', 'line 4', 'lines 10-24', or '' when nothing is known."""
    if page is not None:
        return f"page {page}"
    if line_start is None:
        return ""
    if line_end in (None, line_start):
        return f"line {line_start}"
    return f"lines {line_start}-{line_end}"


def location(source: Mapping[str, Any]) -> str:
    """Where in its file `source` is (see `place`)."""
    return place(source.get("page"), source.get("line_start"), source.get("line_end"))


def cited(source: Mapping[str, Any]) -> bool:
    """Whether the answer cites `source` (a source without the mark counts as cited: the
    daemon marks the ones it lists but the answer did not use)."""
    return bool(source.get("cited", True))


# A memory's attribution in the language the question's script names (English otherwise).
_TOLD = {None: "you told me, {day}", "Korean": "{day}에 알려 주신 내용"}


def told_you(taught_at: float, language: str | None = None) -> str:
    """How a memory is attributed: 'you told me, 2026-12-03' (the local date it was taught);
    `language` as `cove.daemon.answer.language.question_language` names it."""
    day = time.strftime("%Y-%m-%d", time.localtime(taught_at))
    return _TOLD.get(language, _TOLD[None]).format(day=day)
