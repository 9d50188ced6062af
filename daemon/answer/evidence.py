"""Evidence inside sources: the sentence or two of a retrieved chunk that answer a question,
and which sentences of a generated answer the sources support.

Pure functions over text. The embedding function is passed in (`embed`, like
`Embedder.embed`: unit-length vectors, one per text, in order), so nothing here loads a model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise

from cove.daemon.answer.citations import CITATION
from cove.index.chunking import KOREAN_FINAL_ENDINGS, SENTENCE_END  # as chunking splits
from cove.index.keywords import STOPWORDS, query_terms, terms

Embed = Callable[[list[str]], list[list[float]]]

# Relevance = DENSE_WEIGHT * cosine + KEYWORD_WEIGHT * content-word overlap. The dense part
# catches paraphrase, the keyword part the exact terms (codes, names) the embedder blurs.
# Words are compared as keyword search holds them (`terms`): Korean, Chinese and Japanese
# runs as overlapping character pairs, so 버전은 and 버전입니다 share 버전.
# Placeholders: a benchmark will tune them.
DENSE_WEIGHT = 0.5
KEYWORD_WEIGHT = 0.5
# Support = the same blend, with the claim's words looked up in an evidence sentence. A claim
# scoring at least SUPPORT_MIN is supported. Not yet measured: to be set from a benchmark.
SUPPORT_DENSE_WEIGHT = 0.5
# Measured with bench/answers.py on questions 1-40: the default model's answers that held
# the right fact scored 0.76-1.0, while at 0.5 many wrong ones passed. 0.75, 0.8, 0.82 and
# 0.85 were tried, with wrong but "supported" answers scoring 0.77-0.80: 0.8 is the lowest
# bar of the best accuracy (README).
SUPPORT_MIN = 0.8
# Words sharing a prefix this long count as the same word ("updated" / "updates"); shorter
# words must match exactly, or "cat" would match "catalogue".
PREFIX_MATCH = 5
# A following sentence joins the quote when it scores this fraction of the best one and the
# two stay short: an answer often spans two sentences. 0: it joins whenever the quote stays
# under MAX_QUOTE_CHARS (measured: the quote held the answer for 47.5% of the questions of
# bench/answers.py against 42.5% at 0.8; the fact often follows the sentence naming it).
EXTEND_RATIO = 0.0
# Up to four sentences (`max_sentences`) within this many characters: a manual's fact often
# sits two or three sentences after the one naming the setting ("... The default is 1min.").
# Measured: the quote held the answer for 62.5% of bench/answers.py's questions 1-40, 55%
# at two sentences within 300 characters.
MAX_QUOTE_CHARS = 420
# A line this short and without a full stop just before the best sentence joins the quote:
# in manuals it is the term, option or setting the sentence describes ("-Fc" above "Output
# a custom-format archive"). Measured with bench/answers.py (README).
MAX_LEAD_CHARS = 60
# Longer "sentences" (code, tables without punctuation) are split at line breaks.
MAX_SENTENCE_CHARS = 400
# Answer sentences made only of these (and stop words) state nothing to check ("Sure.").
FILLER_WORDS = frozenset({"sure", "yes", "ok", "okay", "certainly", "hope", "helps", "thanks"})

# A line of a list or table (or a rule): each such line is its own sentence, so a single
# newline next to one is a boundary even without punctuation.
_ITEM_LINE = re.compile(r"[ \t]*(?:[-*+•]\s|\d+[.)]\s|\||[-*=_]{3,}\s*$)")
_LINE_BREAK = re.compile(r"\n")
_HAS_WORD = re.compile(r"\w")
# A short line ending like this is a sentence, not a term named before its description.
_ENDS_SENTENCE = re.compile(f"[.!?…。！？．｡{KOREAN_FINAL_ENDINGS}]$")


@dataclass(frozen=True)
class Sentence:
    """A sentence of a text: `text` whitespace-collapsed for display; `start`/`end` are
    character offsets of the original span in the text it came from."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Quote:
    """The sentences of a chunk that answer a question; offsets into the chunk text."""

    text: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Claim:
    """A sentence of an answer and the evidence sentence that best supports it. `n` (the
    source number) and `quote` are None when it is not supported."""

    text: str
    supported: bool
    n: int | None
    quote: str | None
    score: float


def collapse(text: str) -> str:
    """`text` with every run of whitespace made one space, trimmed."""
    return " ".join(text.split())


def split_sentences(text: str) -> list[Sentence]:
    """The sentences of `text` in order, with offsets into it.

    List and table lines are one sentence each; pieces without a word character (rules,
    lone bullets) are dropped. Abbreviations ("e.g.") do split: good enough for quoting.
    """
    sentences: list[Sentence] = []
    for block_start, block_end in _blocks(text):
        # A list item's marker ("1. ") is not a sentence end: look for ends after it.
        marker = _ITEM_LINE.match(text, block_start, block_end)
        after = marker.end() if marker else block_start
        for start, end in _spans(text, block_start, block_end, SENTENCE_END, after):
            if end - start > MAX_SENTENCE_CHARS:
                spans = list(_spans(text, start, end, _LINE_BREAK))
            else:
                spans = [(start, end)]
            sentences.extend(
                Sentence(collapse(text[s:e]), s, e)
                for s, e in spans
                if _HAS_WORD.search(text, s, e)
            )
    return sentences


def _blocks(text: str) -> list[tuple[int, int]]:
    # Cut at each newline that ends or starts a list/table line; prose between is one block.
    cuts = [0]
    offset = 0
    previous_item = False
    for index, line in enumerate(text.split("\n")):
        item = bool(_ITEM_LINE.match(line))
        if index and (item or previous_item):
            cuts.append(offset)
        previous_item = item
        offset += len(line) + 1
    cuts.append(len(text))
    return list(pairwise(cuts))


def _spans(
    text: str, start: int, end: int, boundary: re.Pattern[str], search_from: int | None = None
) -> Iterator[tuple[int, int]]:
    # A piece keeps its closing punctuation and quote marks but not the whitespace after.
    position = start
    for match in boundary.finditer(text, start if search_from is None else search_from, end):
        yield from _trim(text, position, match.start() + len(match.group().rstrip()))
        position = match.end()
    yield from _trim(text, position, end)


def _trim(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        first = start + len(piece) - len(piece.lstrip())
        yield first, first + len(stripped)


def _words(text: str) -> set[str]:
    return {w.lower() for w in terms(text)}


def word_overlap(wanted: list[str], text: str) -> float:
    """The fraction of `wanted` words (`query_terms`) found in `text`, a shared prefix of
    PREFIX_MATCH characters counting as found."""
    if not wanted:
        return 0.0
    present = _words(text)
    found = sum(1 for w in wanted if any(_same_word(w, p) for p in present))
    return found / len(wanted)


def _same_word(a: str, b: str) -> bool:
    if a == b:
        return True
    return (
        len(a) >= PREFIX_MATCH and len(b) >= PREFIX_MATCH and a[:PREFIX_MATCH] == b[:PREFIX_MATCH]
    )


def cosine(a: list[float], b: list[float]) -> float:
    """The cosine of two unit-length vectors (the embedder's): their dot product."""
    return sum(x * y for x, y in zip(a, b, strict=True))


def calibrated(cosine_value: float, floor: float) -> float:
    """A cosine on a common scale: `floor` (what the embedder gives unrelated text) reads as
    0 and 1 stays 1, so the weights and bars here hold for any embedder."""
    return (cosine_value - floor) / (1.0 - floor)


def score_sentences(
    question: str, sentences: list[str], embed: Embed, floor: float = 0.0
) -> list[float]:
    """Each sentence's relevance to `question`: DENSE_WEIGHT * cosine (`calibrated`) +
    KEYWORD_WEIGHT * the fraction of the question's content words present in the sentence."""
    if not sentences:
        return []
    # One call: the embedder batches, and a call per sentence costs its overhead each time.
    question_vector, *vectors = embed([question, *sentences])
    wanted = query_terms(question)
    return [
        DENSE_WEIGHT * calibrated(cosine(question_vector, vector), floor)
        + KEYWORD_WEIGHT * word_overlap(wanted, text)
        for text, vector in zip(sentences, vectors, strict=True)
    ]


def best_quote(
    question: str, chunk_text: str, embed: Embed, max_sentences: int = 4
) -> Quote | None:
    """The best-scoring sentence of `chunk_text` for `question`, extended by the following
    sentences (up to `max_sentences` in all) while each scores at least EXTEND_RATIO of the
    best and the quote stays under MAX_QUOTE_CHARS. None when the chunk has no sentence."""
    sentences = split_sentences(chunk_text)
    scores = score_sentences(question, [s.text for s in sentences], embed)
    return quote_from_scores(chunk_text, sentences, scores, max_sentences)


def quote_from_scores(
    chunk_text: str, sentences: list[Sentence], scores: list[float], max_sentences: int = 4
) -> Quote | None:
    """`best_quote` from sentences already scored (several chunks scored in one call)."""
    if not sentences:
        return None
    best = max(range(len(sentences)), key=scores.__getitem__)
    last = best
    while (
        last - best + 1 < max_sentences
        and last + 1 < len(sentences)
        and scores[best] > 0
        and scores[last + 1] >= EXTEND_RATIO * scores[best]
        and sentences[last + 1].end - sentences[best].start < MAX_QUOTE_CHARS
    ):
        last += 1
    first = best
    lead = sentences[best - 1].text if best > 0 else ""
    if lead and len(lead) <= MAX_LEAD_CHARS and not _ENDS_SENTENCE.search(lead):
        first = best - 1  # a term or option named just before its description
    start, end = sentences[first].start, sentences[last].end
    return Quote(collapse(chunk_text[start:end]), start, end, scores[best])


def quote_lines(
    chunk_text: str, chunk_line_start: int | None, quote: Quote
) -> tuple[int | None, int | None]:
    """The 1-based lines of `quote`, counting newlines in the chunk from its first line.

    Approximate where the loader normalized blank lines between blocks (chunk texts join
    blocks with one blank line); `locate_in_lines` against the file gives exact lines.
    """
    if chunk_line_start is None:
        return None, None
    first = chunk_line_start + chunk_text.count("\n", 0, quote.start)
    last = chunk_line_start + chunk_text.count("\n", 0, max(quote.end - 1, quote.start))
    return first, last


def locate_in_lines(lines: list[str], first_line: int, text: str) -> tuple[int, int] | None:
    """The first and last line numbers holding `text`'s first and last word inside `lines`
    (`lines[0]` is line `first_line`), or None if it is not there.

    Compared word by word (case-sensitive), so line breaks and spacing in the file do not
    matter.
    """
    wanted = text.split()
    if not wanted:
        return None
    words = [(word, first_line + i) for i, line in enumerate(lines) for word in line.split()]
    for i in range(len(words) - len(wanted) + 1):
        if all(words[i + k][0] == w for k, w in enumerate(wanted)):
            return words[i][1], words[i + len(wanted) - 1][1]
    return None


def evidence_window(chunk_text: str, quote: Quote, neighbours: int = 1) -> str:
    """The quote's sentences with up to `neighbours` sentences either side, in document
    order, whitespace-collapsed and joined by a space (context for a reader or a prompt)."""
    sentences = split_sentences(chunk_text)
    inside = [i for i, s in enumerate(sentences) if s.start < quote.end and s.end > quote.start]
    if not inside:
        return collapse(quote.text)
    window = sentences[max(inside[0] - neighbours, 0) : inside[-1] + neighbours + 1]
    return " ".join(s.text for s in window)


def claim_words(text: str) -> list[str]:
    """The words of an answer sentence that state something: content words (`query_terms`)
    that are not filler. `query_terms` falls back to stop words when nothing else is left;
    a claim must not."""
    return [w for w in query_terms(text) if w not in STOPWORDS and w not in FILLER_WORDS]


def support_claims(
    answer: str,
    evidence: list[tuple[int, str]],
    embed: Embed,
    min_score: float = SUPPORT_MIN,
    question: str = "",
    floor: float = 0.0,
) -> list[Claim]:
    """Each claim of `answer` with the evidence sentence that best supports it.

    `evidence` holds (source number, sentence text). Citation markers ("[1]", "[1, 2]") are
    removed first: they are not part of what is claimed. Sentences with no claim words
    ("Sure.") are skipped. Support = SUPPORT_DENSE_WEIGHT * cosine + the rest * the fraction
    of the claim's new words found in the evidence sentence; supported when >= min_score.

    A claim's new words are those the `question` does not already hold: "The default
    checkpoint_timeout is 1.0" asked about the default checkpoint_timeout claims only "1.0",
    and restating the question claims nothing the sources could support.
    """
    asked = _words(question)
    plain = strip_citations(answer)
    claims = [(s.text, words) for s in split_sentences(plain) if (words := claim_words(s.text))]
    if not claims:
        return []
    if not evidence:
        return [Claim(text, False, None, None, 0.0) for text, _ in claims]
    texts = [text for text, _ in claims]
    vectors = embed([*texts, *(sentence for _, sentence in evidence)])
    claim_vectors, evidence_vectors = vectors[: len(texts)], vectors[len(texts) :]
    result = []
    for (text, words), vector in zip(claims, claim_vectors, strict=True):
        scores = [
            SUPPORT_DENSE_WEIGHT * calibrated(cosine(vector, ev_vector), floor)
            + (1 - SUPPORT_DENSE_WEIGHT) * word_overlap(_new(words, asked), sentence)
            for (_, sentence), ev_vector in zip(evidence, evidence_vectors, strict=True)
        ]
        best = max(range(len(evidence)), key=scores.__getitem__)
        supported = scores[best] >= min_score
        n, quote = evidence[best] if supported else (None, None)
        result.append(Claim(text, supported, n, quote, scores[best]))
    return result


def _new(words: list[str], asked: set[str]) -> list[str]:
    """The claim words the question does not hold (a shared prefix counts as held)."""
    return [w for w in words if not any(_same_word(w, a) for a in asked)]


def cached(embed: Embed) -> Embed:
    """`embed` remembering its vectors: an answer's sentences are embedded to pick quotes
    and again to check claims against them."""
    memory: dict[str, list[float]] = {}

    def embed_once(texts: list[str]) -> list[list[float]]:
        missing = list(dict.fromkeys(t for t in texts if t not in memory))
        if missing:
            memory.update(zip(missing, embed(missing), strict=True))
        return [memory[t] for t in texts]

    return embed_once


def strip_citations(answer: str) -> str:
    """`answer` without its `[n]` markers (and the spaces they leave behind)."""
    plain = re.sub(r"[ \t]+([.,;:!?])", r"\1", CITATION.sub("", answer))
    return re.sub(r"(?<=\S)[ \t]{2,}", " ", plain).strip()


def cite(answer: str, claims: list[Claim]) -> str:
    """`answer` with the markers the claims earned: `[n]` after each supported claim (before
    its closing punctuation), the model's own markers removed. `claims` are those
    `support_claims` returned for this answer, in order."""
    plain = strip_citations(answer)
    pending = iter(claims)
    out, position = [], 0
    for sentence in split_sentences(plain):
        if not claim_words(sentence.text):
            continue  # support_claims skipped it too
        claim = next(pending, None)
        if claim is None or not claim.supported:
            continue
        end = sentence.end
        while end > sentence.start and plain[end - 1] in ".!?:;\"'”’)":
            end -= 1
        out.append(plain[position:end] + f" [{claim.n}]")
        position = end
    out.append(plain[position:])
    return "".join(out)


def keyword_snippet(query: str, text: str, max_chars: int = 240) -> str:
    """The sentence of `text` holding most of the query's words (the first on a tie), cut to
    `max_chars`: a search result's query-biased snippet, with no embedding call."""
    sentences = split_sentences(text)
    if not sentences:
        return ""
    wanted = query_terms(query)
    best = max(sentences, key=lambda s: word_overlap(wanted, s.text))
    if len(best.text) <= max_chars:
        return best.text
    return best.text[: max_chars - 1].rstrip() + "…"
