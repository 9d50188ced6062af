"""What the chat shows about an answer, as plain data: its kind, its sources' labels,
the turns of a stored session, and how to open a source in the user's editor."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path

from cove.daemon.client.sources import NOT_CITED, cited, location, told_you

# Lines of context shown above and below a source's own lines.
SNIPPET_CONTEXT_LINES = 6
# Formats Cove extracts text from: an editor would show the raw file, not that text.
NOT_TEXT_SUFFIXES = {".pdf", ".docx", ".pptx", ".epub"}
# Editors that take `+LINE` before the file.
PLUS_LINE_EDITORS = {
    "vi", "vim", "nvim", "gvim", "view", "nano", "pico", "emacs", "emacsclient",
    "micro", "kak", "ne", "joe", "jed", "mg", "mcedit",
}  # fmt: skip
# Editors that take `FILE:LINE` (with an optional flag before it).
COLON_LINE_EDITORS = {"hx": [], "helix": [], "subl": [], "code": ["--goto"], "codium": ["--goto"]}


@dataclass
class Turn:
    """One question and its answer, as the chat shows them."""

    question: str
    answer: str = ""
    state: str = "streaming"  # streaming | done | stopped | failed
    message_id: str | None = None
    session_id: str | None = None
    grounded: bool = True
    sources: list[dict] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    feedback: dict | None = None
    error: str = ""
    # The answer's sentences and whether a source supports each (`claims` of the result).
    claims: list[dict] = field(default_factory=list)
    # Answered by the user's fine-tuned adapter from a close question it was trained on,
    # while neither documents nor memories matched.
    learned: bool = False

    @property
    def kind(self) -> str:
        """streaming, stopped, failed, declined, learned, general, unknown or grounded."""
        if self.state != "done":
            return self.state
        if self.timings.get("declined_topic"):
            return "declined"
        if self.learned:
            return "learned"
        if not self.grounded:
            return "general"
        # A grounded answer without sources is Cove's fixed "I don't know": no model ran.
        return "grounded" if self.sources else "unknown"

    def finish(self, result: dict) -> None:
        """Take the daemon's `done` document."""
        self.state = "done"
        self.answer = result.get("answer", self.answer)
        self.message_id = result.get("message_id")
        self.session_id = result.get("session_id", self.session_id)
        self.grounded = bool(result.get("grounded"))
        self.sources = list(result.get("sources") or [])
        self.timings = dict(result.get("timings") or {})
        self.claims = list(result.get("claims") or [])
        self.learned = bool(result.get("learned"))  # older daemons do not send it


def unsupported_line(turn: Turn) -> str:
    """The answer's sentences no source supports, shown dimmed under it ("" for none)."""
    unsupported = [c["text"] for c in turn.claims if not c.get("supported")]
    if not unsupported:
        return ""
    return "Not supported by your sources: " + " · ".join(unsupported)


def badge(turn: Turn) -> str:
    """The line shown above an answer that is not a plain grounded one ("" for those)."""
    return {
        "streaming": "",
        "stopped": "Stopped: this answer was not kept",
        "failed": f"Failed: {turn.error}",
        "declined": "Declined: a topic Cove is set up not to answer",
        "learned": "Learned from you, not from your documents",
        "general": "General knowledge: not from your documents",
        "unknown": "Not in your documents (g asks from general knowledge)",
        "grounded": "",
    }[turn.kind]


def meta_line(turn: Turn) -> str:
    """Sources and feedback under an answer."""
    parts = []
    if turn.sources:
        cited = sum(1 for s in turn.sources if s.get("cited"))
        count = len(turn.sources)
        parts.append(
            f"{count} source{'s' if count != 1 else ''}" + (f", {cited} cited" if cited else "")
        )
    feedback = turn.feedback or {}
    if feedback.get("rating") == "up":
        parts.append("rated good")
    elif feedback.get("rating") == "down":
        parts.append("rated bad")
    if feedback.get("correction"):
        parts.append("corrected")
    return " · ".join(parts)


def turns_from_messages(messages: list[dict]) -> list[Turn]:
    """Pair a stored session's questions with their answers (a question whose answer was
    stopped has none)."""
    turns: list[Turn] = []
    for message in messages:
        if message["role"] == "user":
            turns.append(Turn(question=message["content"], state="stopped"))
        elif message["role"] == "assistant" and turns and turns[-1].state == "stopped":
            turn = turns[-1]
            turn.finish({**message, "answer": message["content"], "message_id": message["id"]})
            turn.feedback = message.get("feedback")
    return turns


def source_label(source: dict) -> str:
    """One line for the sources panel: number, file, heading trail, place, and "(not cited)"
    as the CLI marks a source the answer did not cite; for a
    memory, when the user taught it and the question they answered."""
    memory = source.get("memory")
    if memory:
        parts = [f"[{source['n']}] {told_you(memory['taught_at'])}", f"“{memory['question']}”"]
    else:
        parts = [f"[{source['n']}] {Path(source['path']).name}"]
        if source.get("heading"):
            parts.append(" > ".join(source["heading"]))
        if where := location(source):
            parts.append(where)
    label = "  ".join(parts)
    return label if cited(source) else f"{label}  {NOT_CITED}"


def find_memory(memories: list[dict], memory_id: str) -> dict | None:
    """The memory with `memory_id` in a `GET /api/memories` list (None: forgotten since)."""
    return next((m for m in memories if m["id"] == memory_id), None)


def snippet_range(source: dict, total_lines: int | None = None) -> tuple[int, int] | None:
    """The lines to read around a source, or None when it has no line numbers (pages) or
    is a memory (its question and answer are shown, not its file)."""
    start, end = source.get("line_start"), source.get("line_end")
    if start is None or source.get("page") is not None or source.get("memory"):
        return None
    first = max(1, start - SNIPPET_CONTEXT_LINES)
    last = (end or start) + SNIPPET_CONTEXT_LINES
    if total_lines is not None:
        last = min(last, total_lines)
    return first, last


class EditorError(Exception):
    """The source cannot be opened in an editor; the message says why."""


def editor_command(editor: str | None, path: str, line: int | None) -> list[str]:
    """The command that opens `path` at `line` in `editor` ($EDITOR)."""
    if not editor or not editor.strip():
        raise EditorError("$EDITOR is not set: set it (e.g. export EDITOR=vim) to open files")
    if Path(path).suffix.lower() in NOT_TEXT_SUFFIXES:
        raise EditorError(f"{Path(path).name} is not a text file; show the snippet instead (Enter)")
    argv = shlex.split(editor)
    name = Path(argv[0]).name
    if line is None:
        return [*argv, path]
    if name in PLUS_LINE_EDITORS:
        return [*argv, f"+{line}", path]
    if name in COLON_LINE_EDITORS:
        return [*argv, *COLON_LINE_EDITORS[name], f"{path}:{line}"]
    return [*argv, path]
