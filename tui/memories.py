"""What the memories panel shows, as plain data: table rows, the search results worth
showing, the details of one memory, and what forgetting one left behind."""

from __future__ import annotations

from datetime import datetime

from textual.notifications import SeverityLevel

from cove.daemon.client import ApiError, CoveClient
from cove.tui.training import when

# A search hit is shown when it is this close in meaning or shares a word. Looser than
# the bar a memory must reach to be an answer's source ([chat] memory_min): a search is for
# browsing, and at 0.45 nearly every paraphrase finds its memory (README, bench/routing.py).
MEANING_MIN = 0.45
# The most results one search asks for (the API's own maximum).
SEARCH_LIMIT = 100
# The table's other columns ("3 Dec 2024 02:00", "correction"), the cells' padding and a
# scrollbar: what is left of its width goes to the question and the answer, cut to fit (the
# details under the table show them whole).
FIXED_CELLS = 16 + 10 + 4 * 2 + 2
# A note names a question cut to this many characters.
QUESTION_CHARS = 40
KIND_NAMES = {"teach": "taught", "correction": "correction"}
EMPTY = (
    "Nothing taught yet. A memory is a question and its answer you give Cove; every "
    'answer searches them beside your documents and cites them as "you told me, DATE".\n'
    "• press a to add one here;\n"
    "• or run `cove teach QUESTION ANSWER` in a shell;\n"
    "• in the chat, correct a wrong answer (e): the correction is remembered too."
)
DAEMON_DOWN = "The daemon is not running: the memories come from it."


def shorten(text: str, limit: int) -> str:
    """One line of at most `limit` characters ('…' where it was cut)."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def cell_widths(width: int) -> tuple[int, int]:
    """(question, answer) characters for a table `width` cells wide (2:3, at least 12)."""
    free = max(width - FIXED_CELLS, 30)
    question = max(free * 2 // 5, 12)
    return question, free - question


def memory_row(
    memory: dict, widths: tuple[int, int], now: datetime | None = None
) -> tuple[str, str, str, str]:
    """(question, answer, when taught, kind) for the table, cut to `widths` characters."""
    return (
        shorten(memory["question"], widths[0]),
        shorten(memory["answer"], widths[1]),
        when(memory.get("taught_at"), now),
        KIND_NAMES.get(memory.get("kind", "teach"), memory.get("kind", "")),
    )


def memory_details(memory: dict, now: datetime | None = None) -> str:
    """The whole question and answer, and where the memory lives."""
    taught = when(memory.get("taught_at"), now)
    if memory.get("kind") == "correction":
        origin = f"corrected in the chat {taught}"
    else:
        origin = f"taught {taught} · {memory['path']} line {memory['line']}"
    return f"Q: {memory['question']}\nA: {memory['answer']}\n{origin}"


def matching(results: list[dict]) -> list[dict]:
    """The memories of a `search_memories` answer worth showing, best first.

    The daemon ranks every memory; one far in meaning that shares no word with the query
    is noise in a filtered list.
    """
    return [r["memory"] for r in results if r["dense"] >= MEANING_MIN or r["keyword"] > 0]


def count_text(shown: int, query: str) -> str:
    """'3 memories', or '2 memories close to “boat”' while searching."""
    text = f"{shown} memor{'ies' if shown != 1 else 'y'}"
    return f"{text} close to “{query}”" if query else text


def forget(client: CoveClient, memory_id: str) -> dict | None:
    """`forget_memory`, or None when the memory is gone already (its file changed)."""
    try:
        return client.forget_memory(memory_id)
    except ApiError as exc:
        if exc.code == "memory_not_found":
            return None
        raise


def forgotten_note(doc: dict) -> tuple[str, SeverityLevel]:
    """(notification, severity) after forgetting: adapters trained on the memory still
    know it, so they are named, with where to get rid of them."""
    question = shorten(doc["forgotten"]["question"], QUESTION_CHARS)
    adapters = doc.get("adapters_trained_on_it") or []
    note = f"Forgot “{question}”: answers no longer use it."
    if not adapters:
        return note, "information"
    # The Training screen flags these adapters ("removed data") but cannot delete one.
    if len(adapters) == 1:
        (adapter,) = adapters
        return (
            f"{note} Adapter {adapter} was trained on it and still knows it: delete it "
            f"with `cove adapters delete {adapter}` (Training, F4, flags it).",
            "warning",
        )
    return (
        f"{note} Adapters {', '.join(adapters)} were trained on it and still know it: "
        "delete them with `cove adapters delete ID` (Training, F4, flags them).",
        "warning",
    )
