"""What one ask produced (`Answer`), and how the sources' quotes and the answer's claims
are written into it: the sources it cites, its `[n]` markers, or the quote that replaces
an answer the sources do not support."""

from __future__ import annotations

from dataclasses import dataclass, field

from cove.daemon.answer import evidence, grounding
from cove.daemon.answer.guardrails import Decline
from cove.daemon.answer.learned import LearnedMatch

# In "auto" mode a generated answer is replaced by the best quote when fewer than this
# share of its claims are supported by the sources (and the quote is strong).
MIN_SUPPORTED_SHARE = 0.5


@dataclass
class Answer:
    """What one ask produced, before it is stored."""

    text: str = ""
    grounded: bool = False
    sources: list[dict] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    declined: Decline | None = None
    claims: list[dict] = field(default_factory=list)
    # The generated answer and its claims, when the quote fallback replaced it.
    replaced: dict | None = None
    # The training question that sent it down the learned path (see cove.daemon.answer.learned).
    learned: LearnedMatch | None = None
    # The question's language where its script names one (language.question_language):
    # Cove's own words around a quote or a refusal follow it.
    language: str | None = None


def settle_claims(
    answer: Answer,
    claims: list[evidence.Claim],
    sources: list[grounding.Source],
    replace_unsupported: bool,
    quote_min: float,
) -> bool:
    """Write the answer's claims, its `[n]` markers and the sources it cites. With
    `replace_unsupported` ([chat] answer_mode "auto"), an answer mostly unsupported is
    replaced by the strongest quote when that reaches `quote_min` (returns True then)."""
    answer.claims = [claim_dict(c) for c in claims]
    supported = [c for c in claims if c.supported]
    best = strongest(sources)
    if (
        replace_unsupported
        and claims
        and len(supported) < MIN_SUPPORTED_SHARE * len(claims)
        and best is not None
        and best.quote["score"] >= quote_min
    ):
        answer.replaced = {"answer": answer.text, "claims": answer.claims}
        answer_with_quote(best, sources, answer)
        answer.timings["fallback"] = "unsupported"
        return True
    cited = list(dict.fromkeys(c.n for c in supported))
    answer.text = evidence.cite(answer.text, claims)
    answer.sources = source_list(sources, cited)
    return False


def answer_with_quote(
    best: grounding.Source, sources: list[grounding.Source], answer: Answer
) -> None:
    """The answer is the best quote, attributed; the quote is its one (supported) claim."""
    quote = best.quote["text"]
    answer.text = grounding.quote_answer(best, answer.language)
    answer.claims = [{"text": quote, "supported": True, "n": best.n, "quote": quote, "score": 1.0}]
    answer.sources = source_list(sources, [best.n])
    answer.timings["answer_mode"] = "quote"


def source_list(sources: list[grounding.Source], cited: list[int]) -> list[dict]:
    """Cited sources first, in the order the answer cites them, then the others."""
    by_number = {s.n: s for s in sources}
    first = [by_number[n].as_dict(cited=True) for n in cited]
    rest = [s.as_dict(cited=False) for s in sources if s.n not in cited]
    return first + rest


def strongest(sources: list[grounding.Source]) -> grounding.Source | None:
    """The source whose quote scores best (None when no source has a quote)."""
    quoted = [s for s in sources if s.quote is not None]
    return max(quoted, key=lambda s: s.quote["score"], default=None)


def claim_dict(claim: evidence.Claim) -> dict:
    """One entry of an answer's `claims`."""
    return {
        "text": claim.text,
        "supported": claim.supported,
        "n": claim.n,
        "quote": claim.quote,
        "score": round(claim.score, 4),
    }
