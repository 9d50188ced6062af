"""The assistant's answer pipeline: retrieve, fit sources and history into the context,
stream the answer with checked citations, and store everything in the session.

With no watched folders, for a general session or request, the answer comes from general
knowledge and is marked `"grounded": false`. A grounded question whose search finds
nothing relevant enough gets a plain "I don't know" without asking the model.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import sqlite_utils

from cove.daemon import grounding, sessions
from cove.daemon.citations import CitationFilter
from cove.daemon.config import ChatSettings
from cove.daemon.guardrails import Decline, Guardrails
from cove.daemon.retrieval import Retriever
from cove.daemon.runtime import GenerationParams, Message, Runtime
from cove.index import manifest


@dataclass(frozen=True)
class AskRequest:
    question: str
    session_id: str | None = None
    general: bool = False
    params: GenerationParams = GenerationParams()
    # The conversation so far when the caller keeps it (OpenAI clients); otherwise the
    # session's stored history is used.
    history: list[Message] | None = None
    # Replaces the configured instructions for this request (an OpenAI system message).
    system: str | None = None


@dataclass
class Answer:
    """What one ask produced, before it is stored."""

    text: str = ""
    grounded: bool = False
    sources: list[dict] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    declined: Decline | None = None


@dataclass
class Assistant:
    """Everything an answer needs, built once by the daemon."""

    db: sqlite_utils.Database
    runtime: Runtime
    retriever: Retriever | None
    settings: ChatSettings
    max_tokens: int
    guardrails: Guardrails | None = None

    async def ask(self, request: AskRequest) -> AsyncIterator[dict]:
        """Yield `{"type": "session", "session_id"}`, then `{"type": "token", "text"}`
        events, then `{"type": "done", "result"}` with the `cove ask --json` document."""
        started = time.perf_counter()
        session_id, turns, general = self._session(request)
        # Sent first, so a client that stops the answer early still knows its session.
        yield {"type": "session", "session_id": session_id}
        answer_room = min(request.params.max_tokens or self.max_tokens, self.max_tokens)
        answer = Answer(grounded=not general, timings={"retrieval_ms": 0.0})
        decline = await self._check_guardrails(request.question)
        messages: list[Message] = []
        sources: list[grounding.Source] = []
        if decline is not None:
            answer.declined, answer.grounded = decline, False
        elif general:
            system = request.system or self.settings.general_prompt
            messages = grounding.fit_general(
                self._count,
                self.runtime.backend.context_length,
                system or grounding.GENERAL_SYSTEM_PROMPT,
                turns,
                request.question,
                answer_room,
            )
        else:
            sources = await self._retrieve(request.question, turns, answer.timings)
            if sources:
                system = request.system or self.settings.system_prompt
                messages, sources = grounding.fit_grounded(
                    self._count,
                    self.runtime.backend.context_length,
                    system or grounding.GROUNDED_SYSTEM_PROMPT,
                    turns,
                    request.question,
                    sources,
                    answer_room,
                )
        answer.timings["prompt_ms"] = _ms(started)
        # The question is logged before generation, so even a cancelled answer leaves a record.
        backend = self.runtime.backend
        sessions.add_message(self.db, session_id, "user", request.question, model=backend.model_id)
        if messages:
            params = GenerationParams(
                max_tokens=answer_room,
                temperature=request.params.temperature,
                top_p=request.params.top_p,
                seed=request.params.seed,
            )
            async for text in self._generate(messages, sources, answer, params, started):
                yield {"type": "token", "text": text}
        else:
            answer.text = decline.message if decline else grounding.NOT_FOUND_ANSWER
            answer.timings.update(first_token_ms=_ms(started), finish_reason="stop")
            yield {"type": "token", "text": answer.text}
        answer.timings["total_ms"] = _ms(started)
        if decline is not None:
            answer.timings["declined_topic"] = decline.topic
        message_id = sessions.add_message(
            self.db,
            session_id,
            "assistant",
            answer.text,
            grounded=answer.grounded,
            model=backend.model_id,
            adapter=backend.adapter,
            timings=answer.timings,
            sources=answer.sources,
        )
        yield {
            "type": "done",
            "result": {
                "answer": answer.text,
                "grounded": answer.grounded,
                "session_id": session_id,
                "message_id": message_id,
                "sources": answer.sources,
                "model": backend.model_id,
                "adapter": backend.adapter,
                "timings": answer.timings,
            },
        }

    def _session(self, request: AskRequest) -> tuple[str, list[Message], bool]:
        """(session id, earlier turns, answer from general knowledge?)"""
        no_folders = self.retriever is None or not manifest.list_folders(self.db)
        if request.session_id:
            session = sessions.get_session(self.db, request.session_id)
            turns = sessions.history(self.db, request.session_id)
            general = bool(session["general"]) or request.general or no_folders
            return request.session_id, turns, general
        general = request.general or no_folders
        session_id = sessions.create_session(self.db, request.question, general=request.general)
        return session_id, list(request.history or []), general

    def _count(self, messages: list[Message]) -> int:
        return self.runtime.backend.count_prompt_tokens(messages)

    async def _check_guardrails(self, question: str) -> Decline | None:
        if self.guardrails is None:
            return None
        return await asyncio.to_thread(self.guardrails.check, question)

    async def _retrieve(
        self, question: str, turns: list[Message], timings: dict
    ) -> list[grounding.Source]:
        assert self.retriever is not None
        started = time.perf_counter()
        results = []
        for query in grounding.retrieval_queries(question, turns):
            hits, search_timings = await asyncio.to_thread(self.retriever.search, query)
            results.append(hits)
            for key, value in search_timings.items():
                timings[key] = round(timings.get(key, 0.0) + value, 2)
        timings["retrieval_ms"] = _ms(started)
        hits = grounding.best_of(results)
        return grounding.relevant_sources(hits, self.settings.min_score, self.settings.max_sources)

    async def _generate(
        self,
        messages: list[Message],
        sources: list[grounding.Source],
        answer: Answer,
        params: GenerationParams,
        started: float,
    ) -> AsyncIterator[str]:
        """Stream the model's answer through the citation filter into `answer`."""
        citations = CitationFilter({s.n for s in sources}) if sources else None
        parts: list[str] = []
        final = None
        async for chunk in self.runtime.stream(messages, params):
            if chunk.finish_reason:
                final = chunk
                continue
            text = citations.feed(chunk.text) if citations else chunk.text
            if text:
                answer.timings.setdefault("first_token_ms", _ms(started))
                parts.append(text)
                yield text
        if citations and (rest := citations.flush()):
            parts.append(rest)
            yield rest
        answer.text = "".join(parts).strip()
        cited = citations.cited if citations else []
        answer.sources = _source_list(sources, cited)
        answer.timings.setdefault("first_token_ms", _ms(started))
        answer.timings.update(
            prompt_tokens=final.prompt_tokens if final else 0,
            completion_tokens=final.completion_tokens if final else 0,
            finish_reason=final.finish_reason if final else "cancelled",
        )


def _source_list(sources: list[grounding.Source], cited: list[int]) -> list[dict]:
    """Cited sources first, in the order the answer cites them, then the others."""
    by_number = {s.n: s for s in sources}
    first = [by_number[n].as_dict(cited=True) for n in cited]
    rest = [s.as_dict(cited=False) for s in sources if s.n not in cited]
    return first + rest


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)
