"""How the MCP tools' results read as text, for hosts that show only text."""

from __future__ import annotations

from cove.daemon.client.sources import told_you
from cove.daemon.mcp.models import (
    MAX_READ_LINES,
    Answer,
    DocumentLines,
    FolderList,
    Memory,
    Recall,
    SearchResult,
)


def describe(path: str, where: str, heading: list[str]) -> str:
    """'/notes/skerry.md, lines 3-4 — Skerry Island lighthouse'"""
    text = f"{path}, {where}" if where else path
    return f"{text} — {' > '.join(heading)}" if heading else text


def render_search(result: SearchResult) -> str:
    if not result.results:
        return f'Nothing in the watched folders matches "{result.query}".'
    count = len(result.results)
    parts = [f'{count} passage{"s" if count > 1 else ""} for "{result.query}", best first:']
    for hit in result.results:
        parts.append(f"[{hit.rank}] {describe(hit.path, hit.location, hit.heading)}\n{hit.text}")
    return "\n\n".join(parts)


def render_lines(doc: DocumentLines) -> str:
    if doc.total_lines == 0:
        return f"{doc.path} is empty."
    text = f"{doc.path}, lines {doc.start_line}-{doc.end_line} of {doc.total_lines}:\n\n{doc.text}"
    if doc.truncated:
        text += f"\n\n[cut at {MAX_READ_LINES} lines: read on with start_line={doc.end_line + 1}]"
    return text


def render_folders(result: FolderList) -> str:
    if not result.folders:
        return "Cove watches no folders yet (add one with `cove folders add PATH`)."
    return "\n".join(
        f"{f.path}: {f.files} files, {f.chunks} passages"
        + (f", {f.failed} failed" if f.failed else "")
        for f in result.folders
    )


def render_answer(answer: Answer) -> str:
    text = answer.answer
    if not answer.grounded:
        text += "\n\n(general knowledge, not from the user's documents)"
    if answer.sources:
        lines = [
            (
                f"[{s.n}] {told_you(s.memory.taught_at)}, asked: {s.memory.question}\n    "
                if s.memory
                else f"[{s.n}] {describe(s.path, s.location, s.heading)}\n    "
            )
            + (f'"{s.quote.text}"' if s.quote else " ".join(s.snippet.split()))
            for s in answer.sources
        ]
        text += "\n\nSources:\n" + "\n".join(lines)
    return text


def render_recall(result: Recall) -> str:
    if not result.results:
        return f'No memory matches "{result.query}" (teach Cove with the remember tool).'
    return "\n".join(
        f"[{hit.memory.id}] {told_you(hit.memory.taught_at)} (similarity {hit.dense:.2f}): "
        f"{hit.memory.question} -> {hit.memory.answer}"
        for hit in result.results
    )


def render_memory(memory: Memory) -> str:
    return f"Remembered [{memory.id}]: {memory.question} -> {memory.answer}"
