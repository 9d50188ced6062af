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
from dataclasses import dataclass, replace

import sqlite_utils

from cove.daemon.answer import evidence, grounding, quotes
from cove.daemon.answer.citations import CitationFilter
from cove.daemon.answer.guardrails import Decline, Guardrails
from cove.daemon.answer.language import not_found, question_language
from cove.daemon.answer.learned import LearnedMatch, LearnedRouter
from cove.daemon.answer.outcome import (
    Answer,
    answer_with_quote,
    settle_claims,
    source_list,
    strongest,
)
from cove.daemon.answer.retrieve import Retriever
from cove.daemon.config import ChatSettings
from cove.daemon.records import sessions
from cove.daemon.records.memories import Memories
from cove.daemon.runtime import GenerationParams, Message, Runtime
from cove.daemon.runtime.repetition import cut_loop
from cove.index import manifest

# Loops are looked for in this much of the answer's end as it streams: three copies of the
# longest unit the detector knows fit in it.
LOOP_TAIL_CHARS = 3000


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
    # Whether the caller chose the temperature; if not, grounded answers use [chat]'s.
    temperature_set: bool = True


@dataclass
class Assistant:
    """Everything an answer needs, built once by the daemon."""

    db: sqlite_utils.Database
    runtime: Runtime
    retriever: Retriever | None
    settings: ChatSettings
    max_tokens: int
    guardrails: Guardrails | None = None
    # The embedder's `embed`: quotes and claim support are scored with it (None: no quotes).
    embed: evidence.Embed | None = None
    # The cosine that embedder gives unrelated sentences (`evidence.calibrated`).
    evidence_floor: float = 0.0
    # What the user taught, searched with every grounded question ([chat] memories).
    memories: Memories | None = None
    # The learned path: the active adapter's training questions ([chat] learned_min).
    learned: LearnedRouter | None = None

    async def ask(self, request: AskRequest) -> AsyncIterator[dict]:
        """Yield `{"type": "session", "session_id"}`, then `{"type": "token", "text"}`
        events, then `{"type": "done", "result"}` with the `cove ask --json` document."""
        started = time.perf_counter()
        session_id, turns, general, chosen = self._session(request)
        # Sent first, so a client that stops the answer early still knows its session.
        yield {"type": "session", "session_id": session_id}
        # Any answer is capped by [model] max_tokens, a grounded one by [chat]'s too: a
        # request asking for more gets the cap.
        cap = self.max_tokens if general else min(self.max_tokens, self.settings.max_tokens)
        answer_room = min(request.params.max_tokens or cap, cap)
        answer = Answer(
            grounded=not general,
            timings={"retrieval_ms": 0.0},
            language=question_language(request.question),
        )
        embed = evidence.cached(self.embed) if self.embed is not None else None
        decline = await self._check_guardrails(request.question)
        messages: list[Message] = []
        sources: list[grounding.Source] = []
        if decline is not None:
            answer.declined, answer.grounded = decline, False
        else:
            if not chosen:
                # Without watched folders (general), memories may still answer.
                found = await self._retrieve(request.question, turns, answer.timings, general)
                if found and embed is not None:
                    found = await self._evidence(request.question, found, embed)
                sources, general = found, general and not found
                answer.grounded = not general
                if not found and not general:
                    answer.learned = await self._learned_match(request.question)
            if general or answer.learned:
                system = request.system or self.settings.general_prompt
                messages = grounding.fit_general(
                    self._count,
                    self.runtime.backend.context_length,
                    system or grounding.GENERAL_SYSTEM_PROMPT,
                    turns,
                    request.question,
                    answer_room,
                )
            elif sources and self.settings.answer_mode != "quote":
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
        if answer.learned is not None:
            answer.grounded = False  # from the adapter's training, not the documents
            answer.timings["learned_from"] = answer.learned.as_dict()
        if messages:
            params = self._params(request, answer_room, grounded=bool(sources))
            answer.timings["answer_mode"] = "learned" if answer.learned else "generate"
            async for text in self._generate(messages, sources, answer, params, started):
                yield {"type": "token", "text": text}
            if sources and embed is not None:
                replaced = await self._attribute(request.question, sources, answer, embed)
                if replaced:
                    yield {"type": "replace", "text": answer.text, "reason": "unsupported"}
        elif sources and (best := strongest(sources)) is not None:
            # [chat] answer_mode = "quote": the documents' own words, no model call.
            answer_with_quote(best, sources, answer)
            answer.timings.update(first_token_ms=_ms(started), finish_reason="stop")
            yield {"type": "token", "text": answer.text}
        else:
            answer.text = decline.message if decline else not_found(answer.language)
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
            claims=answer.claims,
        )
        extra = {"replaced": answer.replaced} if answer.replaced else {}
        if answer.learned is not None:
            extra["learned_from"] = answer.learned.as_dict()
        yield {
            "type": "done",
            "result": {
                **extra,
                "answer": answer.text,
                "grounded": answer.grounded,
                "session_id": session_id,
                "message_id": message_id,
                "sources": answer.sources,
                "claims": answer.claims,
                "learned": answer.learned is not None,
                "model": backend.model_id,
                "adapter": backend.adapter,
                "timings": answer.timings,
            },
        }

    def _params(self, request: AskRequest, answer_room: int, grounded: bool) -> GenerationParams:
        """Sampling for this answer: grounded answers get [chat]'s temperature (unless the
        request chose one), its repetition penalty and stops at the prompt's own layout."""
        asked = request.params
        if not grounded:
            return replace(asked, max_tokens=answer_room)
        return replace(
            asked,
            max_tokens=answer_room,
            temperature=asked.temperature if request.temperature_set else self.settings.temperature,
            repeat_penalty=self.settings.repeat_penalty,
            stop=[*asked.stop, *grounding.GROUNDED_STOPS],
        )

    async def _evidence(
        self, question: str, sources: list[grounding.Source], embed: evidence.Embed
    ) -> list[grounding.Source]:
        """Sources with their quotes; with [chat] prompt = "chunks" the model still reads
        whole chunks."""
        found = await asyncio.to_thread(
            quotes.with_evidence, question, sources, embed, 0, self.evidence_floor
        )
        if self.settings.prompt == "chunks":
            found = [replace(s, prompt_text=None) for s in found]
        return found

    async def _attribute(
        self,
        question: str,
        sources: list[grounding.Source],
        answer: Answer,
        embed: evidence.Embed,
    ) -> bool:
        """Match each sentence of the answer to the source sentence supporting it: `cited`
        and the answer's `[n]` come from that match. In "auto" mode, an answer mostly
        unsupported is replaced by the strongest quote (returns True then)."""
        pool = [(s.n, x.text) for s in sources for x in evidence.split_sentences(s.text)]
        claims = await asyncio.to_thread(
            evidence.support_claims,
            answer.text,
            pool,
            embed,
            question=question,
            floor=self.evidence_floor,
        )
        replace_unsupported = self.settings.answer_mode == "auto"
        return settle_claims(answer, claims, sources, replace_unsupported, self.settings.quote_min)

    def _session(self, request: AskRequest) -> tuple[str, list[Message], bool, bool]:
        """(session id, earlier turns, answer from general knowledge?, was that chosen?)

        General knowledge is chosen by the request or the session; without watched
        folders it is the default, yet memories are still searched first."""
        no_folders = self.retriever is None or not manifest.list_folders(self.db)
        if request.session_id:
            session = sessions.get_session(self.db, request.session_id)
            turns = sessions.history(self.db, request.session_id)
            chosen = bool(session["general"]) or request.general
            return request.session_id, turns, chosen or no_folders, chosen
        chosen = request.general
        session_id = sessions.create_session(self.db, request.question, general=request.general)
        return session_id, list(request.history or []), chosen or no_folders, chosen

    async def _learned_match(self, question: str) -> LearnedMatch | None:
        """The active adapter's training question close enough to answer from it."""
        if self.learned is None:
            return None
        adapter, bar = self.runtime.backend.adapter, self.settings.learned_min
        return await asyncio.to_thread(self.learned.match, adapter, question, bar)

    def _count(self, messages: list[Message]) -> int:
        return self.runtime.backend.count_prompt_tokens(messages)

    async def _check_guardrails(self, question: str) -> Decline | None:
        if self.guardrails is None:
            return None
        return await asyncio.to_thread(self.guardrails.check, question)

    async def _retrieve(
        self, question: str, turns: list[Message], timings: dict, memories_only: bool = False
    ) -> list[grounding.Source]:
        """Sources for `question`: relevant document hits (unless `memories_only`) and
        memories, in one numbered list."""
        settings = self.settings
        documents: list[grounding.Source] = []
        started = time.perf_counter()
        if not memories_only and self.retriever is not None:
            results = []
            for query in grounding.retrieval_queries(question, turns):
                hits, search_timings = await asyncio.to_thread(self.retriever.search, query)
                results.append(hits)
                for key, value in search_timings.items():
                    timings[key] = round(timings.get(key, 0.0) + value, 2)
            documents = grounding.relevant_sources(
                grounding.best_of(results),
                settings.min_score,
                settings.max_sources,
                settings.near_miss,
            )
        remembered: list[grounding.Source] = []
        if settings.memories and self.memories is not None:
            hits = await asyncio.to_thread(self.memories.search, question, settings.max_sources)
            remembered = grounding.memory_sources(hits, settings.memory_min)
        timings["retrieval_ms"] = _ms(started)
        return grounding.merge_sources(documents, remembered, settings.max_sources)

    async def _generate(
        self,
        messages: list[Message],
        sources: list[grounding.Source],
        answer: Answer,
        params: GenerationParams,
        started: float,
    ) -> AsyncIterator[str]:
        """Stream the model's answer through the citation filter into `answer`; an answer
        that starts to loop is stopped there and cut back (`finish_reason: "repetition"`)."""
        citations = CitationFilter({s.n for s in sources}) if sources else None
        parts: list[str] = []
        final = None
        looped = False
        stream = self.runtime.stream(messages, params)
        try:
            async for chunk in stream:
                if chunk.finish_reason:
                    final = chunk
                    continue
                text = citations.feed(chunk.text) if citations else chunk.text
                if text:
                    answer.timings.setdefault("first_token_ms", _ms(started))
                    parts.append(text)
                    yield text
                    # Tokens arrive batched, so every piece is checked, on the text's tail.
                    if cut_loop("".join(parts)[-LOOP_TAIL_CHARS:])[1]:
                        looped = True
                        break
        finally:
            await stream.aclose()  # a loop, or a client gone: the model stops at once
        if citations and (rest := citations.flush()):
            parts.append(rest)
            yield rest
        answer.text, cut = cut_loop("".join(parts).strip())
        looped = looped or cut
        cited = citations.cited if citations else []
        answer.sources = source_list(sources, cited)
        answer.timings.setdefault("first_token_ms", _ms(started))
        finish = "repetition" if looped else (final.finish_reason if final else "cancelled")
        answer.timings.update(
            prompt_tokens=final.prompt_tokens if final else 0,
            completion_tokens=final.completion_tokens if final else 0,
            finish_reason=finish,
        )


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)
