"""Each source's quote (the sentences that answer the question, located by line in the
file itself) and the evidence window the prompt holds instead of the whole chunk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from cove.daemon.answer import evidence
from cove.daemon.answer.grounding import Source
from cove.index.loaders import is_plain_text
from cove.index.loaders.blocks import split_lines
from cove.index.pathnames import unescape_path


def with_evidence(
    question: str,
    sources: Sequence[Source],
    embed: evidence.Embed,
    neighbours: int = 0,
    floor: float = 0.0,
) -> list[Source]:
    """`sources` with their quote (the sentences that answer `question`, with exact lines)
    and the evidence window the prompt holds instead of the whole chunk.

    Every sentence of every source is scored in one embedding call.
    """
    split = [evidence.split_sentences(s.text) for s in sources]
    texts = [x.text for xs in split for x in xs]
    scores = evidence.score_sentences(question, texts, embed, floor)
    result, offset = [], 0
    for source, sentences in zip(sources, split, strict=True):
        mine, offset = scores[offset : offset + len(sentences)], offset + len(sentences)
        quote = evidence.quote_from_scores(source.text, sentences, mine)
        if quote is None:
            result.append(source)
            continue
        first, last = _quote_lines(source, quote)
        found = {"text": quote.text, "line_start": first, "line_end": last}
        result.append(
            replace(
                source,
                quote={**found, "score": round(quote.score, 4)},
                prompt_text=evidence.evidence_window(source.text, quote, neighbours),
            )
        )
    return result


def _quote_lines(source: Source, quote: evidence.Quote) -> tuple[int | None, int | None]:
    """The quote's lines in the file itself where the file is plain text; else counted in
    the chunk (the loader's extracted text, which `GET /api/files` serves)."""
    counted = evidence.quote_lines(source.text, source.line_start, quote)
    if source.line_start is None or source.line_end is None or not is_plain_text(source.path):
        return counted
    try:
        with open(unescape_path(source.path), encoding="utf-8", errors="replace") as handle:
            lines = split_lines(handle.read())
    except OSError:
        return counted
    window = lines[source.line_start - 1 : source.line_end]
    return evidence.locate_in_lines(window, source.line_start, quote.text) or counted
