"""Grounded prompts: which search hits become numbered sources, and how the sources, the
conversation and the question are fitted into the model's context. Each source's quote is
found in `quotes`; the language a question asks to be answered in, in `language`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from cove.daemon.answer import language
from cove.daemon.answer.language import question_language
from cove.daemon.client.sources import place, told_you
from cove.daemon.records.memories import MemoryHit
from cove.daemon.runtime import ContextOverflowError, Message
from cove.index.search import SearchHit

GROUNDED_SYSTEM_PROMPT = (
    "You are Cove, an assistant that answers questions from the user's own documents. "
    "Answer only from the numbered sources given with the question. After each fact, cite "
    "the source it came from by its number in square brackets, like [1]. If the sources do "
    "not contain the answer, say that you don't know. Answer in the language of the question, "
    "even when the sources are in another. Be concise."
)
GENERAL_SYSTEM_PROMPT = (
    "You are Cove, a helpful assistant running offline on the user's own computer. "
    "Answer clearly and concisely."
)
NOT_FOUND_ANSWER = language.not_found(None)
# Most of a source's text a prompt may hold; chunks are far shorter, but a future loader
# or a changed chunk size must not let one source crowd out the rest.
MAX_SOURCE_CHARS = 4000
# Text of a source shown in the source list.
SNIPPET_CHARS = 240
# A grounded answer ends where the model starts copying the prompt's own layout: a source
# header ("\n[2] notes.md > Heating"), the sources block or the question line.
GROUNDED_STOPS = ["\n[", "\nSources:", "\nQuestion:"]
CountTokens = Callable[[list[Message]], int]


@dataclass(frozen=True)
class Source:
    """A search hit as the n-th source of an answer."""

    n: int
    path: str
    heading: list[str]
    page: int | None
    line_start: int | None
    line_end: int | None
    text: str
    score: float
    # The sentence(s) that answer the question: {"text", "line_start", "line_end", "score"}.
    quote: dict | None = None
    # What the model reads of this source, when not the whole text (the evidence window).
    prompt_text: str | None = None
    # For a memory (what the user taught): {"id", "kind", "question", "taught_at"}; `text`
    # is the answer, `path` the teach file ("" for a correction made in chat).
    memory: dict | None = None

    def location(self) -> str:
        """Where in the file: "page 3", "line 4", "lines 10-24" or ""."""
        return place(self.page, self.line_start, self.line_end)

    def as_dict(self, cited: bool) -> dict:
        """One entry of an answer's `sources` (design.md)."""
        snippet = " ".join(self.text.split())
        if len(snippet) > SNIPPET_CHARS:
            snippet = snippet[: SNIPPET_CHARS - 1].rstrip() + "…"
        return {
            "n": self.n,
            "path": self.path,
            "heading": self.heading,
            "page": self.page,
            "line_start": self.line_start,
            "line_end": self.line_end,
            "snippet": snippet,
            "cited": cited,
            "quote": self.quote_dict(),
            "memory": self.memory,
        }

    def quote_dict(self) -> dict | None:
        """The `quote` of an answer's source: text and lines (the score stays inside)."""
        if self.quote is None:
            return None
        return {k: self.quote[k] for k in ("text", "line_start", "line_end")}


def relevant_sources(
    hits: Sequence[SearchHit], min_score: float, limit: int, near_miss: float = 0.0
) -> list[Source]:
    """Hits whose dense similarity to the question reaches `min_score`, numbered from 1.

    The bar is a retrieval score, not the model's opinion: a hit found only by BM25 (no
    dense score) passes only when dense search is switched off (then no score exists).

    When no hit reaches the bar, a clear top hit just under it is kept alone: the hit
    dense search ranks first, within `near_miss` of the bar, that keyword search also
    ranks first. Two searches agreeing on one passage is evidence a cosine just short of
    the bar misses (measured with bench/abstain.py).
    """
    kept = []
    for hit in hits:
        dense = hit.scores.get("dense")
        if dense is None and any(h.scores.get("dense") is not None for h in hits):
            continue
        if dense is not None and dense < min_score:
            continue
        kept.append(hit)
    if not kept and near_miss > 0:
        kept = clear_near_miss(hits, min_score - near_miss)
    return [
        Source(
            n=n,
            path=hit.path,
            heading=list(hit.heading),
            page=hit.page,
            line_start=hit.line_start,
            line_end=hit.line_end,
            text=hit.text[:MAX_SOURCE_CHARS],
            score=float(hit.scores.get("dense") or 0.0),
        )
        for n, hit in enumerate(kept[:limit], start=1)
    ]


def clear_near_miss(hits: Sequence[SearchHit], floor: float) -> list[SearchHit]:
    """The hit that both dense and keyword search rank first, if its dense similarity
    reaches `floor` (as a one-element list); else none."""
    dense = [h for h in hits if h.scores.get("dense") is not None]
    keyword = [h for h in hits if h.scores.get("bm25") is not None]
    if not dense or not keyword:
        return []
    top = max(dense, key=lambda h: h.scores["dense"])
    # bm25 scores are higher-is-better (cove.index.keywords).
    top_keyword = max(keyword, key=lambda h: h.scores["bm25"])
    if top is top_keyword and top.scores["dense"] >= floor:
        return [top]
    return []


def retrieval_queries(question: str, turns: Sequence[Message]) -> list[str]:
    """What to search for: the question alone and, in a conversation, after the user's
    previous question.

    A follow-up ("and when was that?") names nothing; the question before it does. A new
    subject, or a long earlier question, is better searched alone. Both are searched and
    the caller keeps the one whose best hit is more similar (`best_of`).
    """
    previous = next((t["content"] for t in reversed(turns) if t["role"] == "user"), "")
    return [question, f"{previous}\n{question}"] if previous else [question]


def best_of(results: Sequence[Sequence[SearchHit]]) -> list[SearchHit]:
    """The result list whose top dense similarity is highest (the first on a tie)."""

    def top(hits: Sequence[SearchHit]) -> float:
        return max((h.scores.get("dense") or -1.0 for h in hits), default=-1.0)

    return list(max(results, key=top, default=[]))


def source_block(sources: Sequence[Source]) -> str:
    """The numbered sources as the model reads them."""
    parts = []
    for source in sources:
        where = " > ".join(source.heading)
        if source.memory is not None:
            asked, who = source.memory["question"], told_you(source.memory["taught_at"])
            parts.append(f'[{source.n}] {who}, asked "{asked}"\n{source.text}')
            continue
        if source.prompt_text is not None:
            # Evidence: the file's name and the heading trail are context enough; a long path
            # and line numbers are what a small model copied back into its answers.
            label = " > ".join(p for p in (Path(source.path).name, where) if p)
            parts.append(f"[{source.n}] {label}\n{source.prompt_text.strip()}")
            continue
        label = " | ".join(p for p in (source.path, where, source.location()) if p)
        parts.append(f"[{source.n}] {label}\n{source.text.strip()}")
    return "\n\n".join(parts)


def grounded_question(question: str, sources: Sequence[Source]) -> str:
    """The final user message: sources first, then the question, then the language to
    answer in where the question's script names it (a small model reading English
    sources otherwise tends to answer in English)."""
    asked_in = question_language(question)
    ask = f"\nAnswer in {asked_in}." if asked_in else ""
    return f"Sources:\n\n{source_block(sources)}\n\nQuestion: {question}{ask}"


def fit_grounded(
    count_tokens: CountTokens,
    context: int,
    system: str,
    turns: Sequence[Message],
    question: str,
    sources: Sequence[Source],
    answer_room: int,
) -> tuple[list[Message], list[Source]]:
    """The messages to send and the sources they hold, within `context - answer_room`.

    Sources come before history: the best sources that fit are kept (lowest ranked
    dropped first), then as many recent turns as still fit. The question is never cut;
    if it does not fit even alone, that is a ContextOverflowError.
    """
    budget = context - answer_room
    head: list[Message] = [{"role": "system", "content": system}]
    kept = list(sources)
    while True:
        tail: list[Message] = [{"role": "user", "content": grounded_question(question, kept)}]
        used = count_tokens(head + tail)
        if used <= budget:
            break
        if not kept:
            raise ContextOverflowError(used, context, answer_room)
        kept.pop()
    return head + recent_turns(count_tokens, budget, head, list(turns), tail), kept


def fit_general(
    count_tokens: CountTokens,
    context: int,
    system: str,
    turns: Sequence[Message],
    question: str,
    answer_room: int,
) -> list[Message]:
    """The messages for an answer from general knowledge: as much history as fits."""
    head: list[Message] = [{"role": "system", "content": system}]
    tail: list[Message] = [{"role": "user", "content": question}]
    used = count_tokens(head + tail)
    if used > context - answer_room:
        raise ContextOverflowError(used, context, answer_room)
    return head + recent_turns(count_tokens, context - answer_room, head, list(turns), tail)


def recent_turns(
    count_tokens: CountTokens,
    budget: int,
    head: list[Message],
    turns: list[Message],
    tail: list[Message],
) -> list[Message]:
    """The most recent `turns` that fit in `budget` with `head` and `tail`, then `tail`.
    (`head` itself is not returned: callers put it in front.)"""
    # Binary search for the fewest oldest turns to drop: a huge history then costs a few
    # tokenizer runs, not one per turn. Dropping all of them fits (the caller checked).
    low, high = 0, len(turns)
    while low < high:
        middle = (low + high) // 2
        if count_tokens(head + turns[middle:] + tail) <= budget:
            high = middle
        else:
            low = middle + 1
    start = low
    # Start on a user turn, so the model never sees an answer without its question.
    while start < len(turns) and turns[start]["role"] != "user":
        start += 1
    return turns[start:] + tail


def quote_answer(source: Source, in_language: str | None = None) -> str:
    """An answer made of the source's own words, attributed in the question's language
    (`question_language`; English for None): no model involved."""
    assert source.quote is not None
    if source.memory is not None:
        who = told_you(source.memory["taught_at"], in_language).capitalize()
    else:
        who = language.says(Path(source.path).name, in_language)
    return f'{who}: "{source.quote["text"]}" [{source.n}]'


def memory_sources(hits: Sequence[MemoryHit], min_score: float) -> list[Source]:
    """Memories whose dense similarity reaches `min_score`, as sources (numbered later by
    `merge_sources`). Without dense scores (no embedder) every word must match."""
    return [
        Source(
            n=0,
            path=hit.memory.path,
            heading=[hit.memory.question],
            page=None,
            line_start=hit.memory.line,
            line_end=hit.memory.line,
            text=hit.memory.answer[:MAX_SOURCE_CHARS],
            score=hit.dense,
            memory={
                "id": hit.memory.id,
                "kind": hit.memory.kind,
                "question": hit.memory.question,
                "taught_at": hit.memory.taught_at,
            },
        )
        for hit in hits
        if hit.dense >= min_score or (hit.dense == 0.0 and hit.keyword == 1.0)
    ]


def merge_sources(
    documents: Sequence[Source], memories: Sequence[Source], limit: int
) -> list[Source]:
    """Documents in their search order with memories placed among them by dense score
    (a memory goes before the first document less similar than it), numbered from 1."""
    waiting = sorted(memories, key=lambda s: s.score, reverse=True)
    merged: list[Source] = []
    for document in documents:
        while waiting and waiting[0].score > document.score:
            merged.append(waiting.pop(0))
        merged.append(document)
    merged += waiting
    return [replace(source, n=n) for n, source in enumerate(merged[:limit], start=1)]
