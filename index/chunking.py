"""Split a loaded document into chunks that follow its structure and fit the embedder.

A chunk never mixes sections (heading trails) or pages, is packed from whole blocks where they
fit, and is measured in the embedder's own word pieces *with* its heading trail prepended: the
embedder silently truncates past `max_seq_length`, and whether the trail is embedded is decided
later by measurement, so the budget must hold either way.

Token counting is a tokenizer call, so each piece of text (a sentence, a line of code) is
counted once and chunks are sized by adding counts; every finished chunk is then counted for
real and re-packed tighter if the sum was optimistic.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import groupby

from cove.index.document import Block, Document
from cove.index.keywords import HANGUL

CountTokens = Callable[[str], int]

# Korean predicates end a sentence in these syllables (합니다, 해요, 할까, 하죠; 함 and 됨 in
# help texts): a line ending in one is a sentence even without a full stop.
KOREAN_FINAL_ENDINGS = "다요까죠함됨"
# Split points, coarsest first; a piece ends where a boundary match ends (evidence quoting
# splits sentences at SENTENCE_END too). Between Hangul a full stop needs no space after it
# ("설치합니다.다음으로"); between digits or Latin letters it never splits (3.5, example.com).
SENTENCE_END = re.compile(
    r"[.!?…]+[\"'”’)\]]*\s+|[。！？．｡]+\s*"
    rf"|(?<=[{HANGUL}])[.!?…]+[\"'”’)\]]*(?=[“‘(\[]?[{HANGUL}])"
    rf"|(?<=[{KOREAN_FINAL_ENDINGS}])[ \t]*\n\s*|\n\s*\n"
)
_LINE = re.compile(r"\n")
_WORD = re.compile(r"\s+")
_LEVELS: dict[str, tuple[re.Pattern[str], ...]] = {
    "code": (_LINE, _WORD),
    "list": (_LINE, SENTENCE_END, _WORD),  # an item per line; long items by sentence
    "table": (_LINE, SENTENCE_END, _WORD),
}
_PROSE_LEVELS = (SENTENCE_END, _LINE, _WORD)
# Kinds worth keeping in one chunk even if that leaves less room for the overlap.
_KEEP_WHOLE = frozenset({"code", "table"})
_BLOCK_SEPARATOR = "\n\n"
_MIN_TEXT_TOKENS = 8  # half of it at least stays for text, next to a long trail


@dataclass(frozen=True)
class Chunk:
    """A piece of a document small enough to embed whole.

    `text` is the chunk's own text as shown to users, `heading` the trail of headings it sits
    under (outermost first), `ordinal` its 0-based position in the document. Lines are 1-based
    and inclusive; page and lines are None where the loader gave none.
    """

    text: str
    heading: tuple[str, ...]
    page: int | None
    line_start: int | None
    line_end: int | None
    ordinal: int


def embed_text(chunk: Chunk, with_heading: bool) -> str:
    """The text to embed: the chunk's text, after its heading trail ("A > B\\n\\n") if asked."""
    return _heading_prefix(chunk.heading) + chunk.text if with_heading else chunk.text


def default_chunk_tokens(max_seq_length: int) -> int:
    """The chunk budget for an embedder with this `max_seq_length`, special tokens included.

    Capped at 256: longer chunks blur what an embedding says about any one passage. Eight
    tokens are held back so a small addition to the embedded text later (a separator, a
    marker) does not push full chunks into silent truncation.
    """
    return min(max_seq_length, 256) - 8


def chunk_document(
    doc: Document,
    count_tokens: CountTokens,
    max_tokens: int,
    overlap: float = 0.15,
    min_tokens: int = 32,
) -> list[Chunk]:
    """Chunks of `doc`, in document order, each within `max_tokens` with its heading prepended.

    Consecutive blocks under one heading trail and on one page form a run; runs never share a
    chunk. Within a run, blocks are packed greedily and a block that would not fit the current
    chunk starts the next one whole when it can; one too big for any chunk is split at
    sentences, then lines, then words (code and tables at lines first). Consecutive chunks of a
    run repeat about `overlap` x `max_tokens` tokens (between 2/3 and 4/3 of that) of the
    previous chunk's tail, in whole sentences or lines where possible; a page change starts
    afresh, without overlap, so every chunk cites one page. A run never ends on a chunk with
    fewer than `min_tokens` new tokens when the previous chunk can give it some.

    Heading blocks are carried by the trail, not repeated as text. A section holding only its
    heading yields nothing when a subsection follows (the subsection's trail names it), and a
    chunk of the heading's own text otherwise, so an empty section can still be found.
    Trails longer than half the budget lose their outer headings, then the innermost's end.
    """
    specials = count_tokens("")  # [CLS] and [SEP] for BERT-like models, in every count
    if max_tokens - specials < _MIN_TEXT_TOKENS:
        raise ValueError(f"max_tokens leaves under {_MIN_TEXT_TOKENS} tokens of text: {max_tokens}")
    if not 0.0 <= overlap < 0.5:
        raise ValueError(f"overlap must be in [0, 0.5), got {overlap}")
    chunks: list[Chunk] = []
    for heading, blocks in _runs(doc.blocks):
        budget = _budget(heading, count_tokens, specials, max_tokens, overlap)
        pieces = [piece for at, block in blocks for piece in _block_pieces(at, block, budget)]
        for packed in _verified(_pack(pieces, budget, min_tokens), budget, min_tokens):
            chunks.append(_make_chunk(packed, budget.heading, len(chunks)))
    return chunks


@dataclass(frozen=True)
class _Piece:
    """A span of one block's text, trimmed but for indentation, its word pieces counted once."""

    block: Block
    position: int  # of the block in the document: the same Block may appear twice
    start: int
    end: int
    tokens: int  # without the special tokens every count includes; -1 until counted


@dataclass(frozen=True)
class _Budget:
    """What sizing one run's chunks needs: the counter, the trail and the limits."""

    count: CountTokens
    specials: int
    max_tokens: int
    heading: tuple[str, ...]
    limit: int  # tokens of chunk text that fit next to the special tokens and the trail
    overlap_lo: int
    overlap_target: int
    overlap_hi: int

    def content(self, text: str) -> int:
        return self.count(text) - self.specials

    def overflow(self, pieces: list[_Piece]) -> int:
        """How far the real count of the chunk made of `pieces` is over `max_tokens`."""
        return self.count(_heading_prefix(self.heading) + _text(pieces)) - self.max_tokens


# A chunk before verification: how many leading pieces repeat the previous chunk, and pieces.
_Draft = tuple[int, list[_Piece]]


def _heading_prefix(heading: tuple[str, ...]) -> str:
    return " > ".join(heading) + "\n\n" if heading else ""


def _budget(
    heading: tuple[str, ...], count: CountTokens, specials: int, max_tokens: int, overlap: float
) -> _Budget:
    heading = _fit_heading(heading, count, specials, (max_tokens - specials) // 2)
    head_tokens = count(_heading_prefix(heading)) - specials if heading else 0
    target = round(overlap * max_tokens)
    return _Budget(
        count=count,
        specials=specials,
        max_tokens=max_tokens,
        heading=heading,
        limit=max_tokens - specials - head_tokens,
        overlap_lo=round(target * 2 / 3),
        overlap_target=target,
        overlap_hi=round(target * 4 / 3),
    )


def _fit_heading(
    heading: tuple[str, ...], count: CountTokens, specials: int, limit: int
) -> tuple[str, ...]:
    """The trail within `limit` tokens: outer headings dropped first, then the innermost cut."""

    def cost(trail: tuple[str, ...]) -> int:
        return count(_heading_prefix(trail)) - specials

    while len(heading) > 1 and cost(heading) > limit:
        heading = heading[1:]
    if not heading or cost(heading) <= limit:
        return heading
    low, high = 0, len(heading[0])  # longest prefix of the innermost heading that fits
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if cost((heading[0][:mid],)) <= limit else (low, mid - 1)
    return (heading[0][:low].rstrip(),) if heading[0][:low].strip() else ()


def _runs(blocks: list[Block]) -> Iterator[tuple[tuple[str, ...], list[tuple[int, Block]]]]:
    """Consecutive content blocks, with their positions, sharing a heading trail and a page."""
    numbered = enumerate(blocks)
    sections = [(trail, list(group)) for trail, group in groupby(numbered, lambda n: n[1].heading)]
    for index, (trail, members) in enumerate(sections):
        content = [(at, b) for at, b in members if not (b.kind == "heading" and b.heading)]
        if not content:
            after = sections[index + 1][0] if index + 1 < len(sections) else ()
            if len(after) > len(trail) and after[: len(trail)] == trail:
                continue  # the subsection's trail names this heading
            content = members
        for _, group in groupby(content, key=lambda numbered: numbered[1].page):
            yield trail, list(group)


def _block_pieces(position: int, block: Block, budget: _Budget) -> list[_Piece]:
    """A block as sentences (prose) or lines (code, lists, tables), each within the limit."""
    first, *finer = _LEVELS.get(block.kind, _PROSE_LEVELS)
    pieces: list[_Piece] = []
    for start, end in _spans(block.text, start=0, end=len(block.text), boundary=first):
        pieces.extend(_fit(_Piece(block, position, start, end, tokens=-1), tuple(finer), budget))
    return pieces


def _fit(span: _Piece, levels: tuple[re.Pattern[str], ...], budget: _Budget) -> list[_Piece]:
    """`span` counted, as one piece if it fits, else split at the coarsest boundary it has."""
    text, start, end = span.block.text, span.start, span.end
    tokens = budget.content(text[start:end])
    if tokens <= budget.limit or end - start <= 1:
        return [replace(span, tokens=tokens)]
    for depth, boundary in enumerate(levels):
        spans = _spans(text, start, end, boundary)
        if len(spans) > 1:
            finer = levels[depth + 1 :]
            parts = (replace(span, start=s, end=e) for s, e in spans)
            return [piece for part in parts for piece in _fit(part, finer, budget)]
    middle = (start + end) // 2  # one "word" too long for a chunk (a hash, minified code)
    halves = replace(span, end=middle), replace(span, start=middle)
    return [piece for half in halves for piece in _fit(half, (), budget)]


def _spans(text: str, start: int, end: int, boundary: re.Pattern[str]) -> list[tuple[int, int]]:
    """Non-blank spans of text[start:end] split where `boundary` matches, trimmed but for the
    indentation of their first line (a chunk of code should start as the code does)."""
    cuts = [start, *(m.end() for m in boundary.finditer(text, start, end)), end]
    spans = []
    for cut, e in zip(cuts, cuts[1:], strict=False):
        s = cut
        while s < e and text[s].isspace():
            s += 1
        while cut < s < e and text[s - 1] in " \t":
            s -= 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s < e:
            spans.append((s, e))
    return spans


def _tokens(pieces: list[_Piece]) -> int:
    return sum(piece.tokens for piece in pieces)


def _pack(
    pieces: list[_Piece], budget: _Budget, min_tokens: int, lead: Sequence[_Piece] = ()
) -> list[_Draft]:
    """Greedy packing of one run's pieces by added counts, starting after `lead` pieces."""
    drafts: list[_Draft] = []
    current, fresh = list(lead), 0  # fresh: pieces of `current` not repeated from before
    block_tokens: dict[int, int] = {}
    for piece in pieces:
        block_tokens[piece.position] = block_tokens.get(piece.position, 0) + piece.tokens
    for index, piece in enumerate(pieces):
        used = _tokens(current)
        starts_block = index == 0 or pieces[index - 1].position != piece.position
        whole = block_tokens[piece.position]
        if fresh and starts_block and _break_before(piece.block, whole, used, budget):
            drafts.append((len(current) - fresh, current))
            current, fresh = _overlap(current, budget.limit - whole, budget), 0
            used = _tokens(current)
        if used + piece.tokens > budget.limit:
            if fresh:
                drafts.append((len(current) - fresh, current))
            # Without fresh pieces, `current` is only overlap: shrink it to make room.
            current, fresh = _overlap(current, budget.limit - piece.tokens, budget), 0
        current.append(piece)
        fresh += 1
    if fresh:
        drafts.append((len(current) - fresh, current))
    return _settle_tail(drafts, budget, min_tokens)


def _break_before(block: Block, whole: int, used: int, budget: _Budget) -> bool:
    """Whether a block of `whole` tokens that won't fit after `used` starts the next chunk
    (whole, after the usual overlap; code and tables even at the cost of that overlap)
    rather than filling the current chunk and running over into the next."""
    if used + whole <= budget.limit:
        return False
    if whole + budget.overlap_target <= budget.limit:
        return True
    return block.kind in _KEEP_WHOLE and whole <= budget.limit


def _overlap(previous: list[_Piece], room: int, budget: _Budget) -> list[_Piece]:
    """The tail of `previous` to repeat next: whole pieces up to the upper bound, topped up
    with the last words of one more piece when whole pieces fall short of the lower bound."""
    cap = min(budget.overlap_hi, room)
    taken = 0
    while taken < len(previous) and _tokens(previous[-taken - 1 :]) <= cap:
        taken += 1
    tail = previous[len(previous) - taken :]
    used = _tokens(tail)
    if used < min(budget.overlap_lo, cap) and taken < len(previous):
        words = _last_words(previous[-taken - 1], min(budget.overlap_target, cap) - used, budget)
        tail = ([words] if words else []) + tail
    return tail


def _last_words(piece: _Piece, want: int, budget: _Budget) -> _Piece | None:
    """The longest run of `piece`'s last words within `want` tokens (binary search)."""
    starts = [m.start() for m in re.finditer(r"\S+", piece.block.text[piece.start : piece.end])]
    best: _Piece | None = None
    low, high = 1, len(starts) - 1  # a whole piece is not "last words"
    while low <= high:
        mid = (low + high) // 2
        start = piece.start + starts[-mid]
        tokens = budget.content(piece.block.text[start : piece.end])
        if tokens <= want:
            best, low = replace(piece, start=start, tokens=tokens), mid + 1
        else:
            high = mid - 1
    return best


def _settle_tail(drafts: list[_Draft], budget: _Budget, min_tokens: int) -> list[_Draft]:
    """Don't end a run on a stub: its new text joins the previous chunk if that fits, else
    the previous chunk hands over its last pieces."""
    if len(drafts) < 2 or _tokens(drafts[-1][1][drafts[-1][0] :]) >= min_tokens:
        return drafts
    (lead, previous), (last_lead, last) = drafts[-2], drafts[-1]
    stub = last[last_lead:]
    if _tokens(previous) + _tokens(stub) <= budget.limit:
        return [*drafts[:-2], (lead, previous + stub)]
    keep, moved = list(previous), list(stub)
    while len(keep) - lead > 1 and _tokens(moved) < min_tokens:
        if _tokens(moved) + keep[-1].tokens > budget.limit:
            break
        moved.insert(0, keep.pop())
    if len(moved) == len(stub):
        return drafts
    repeated = _overlap(keep, budget.limit - _tokens(moved), budget)
    return [*drafts[:-2], (lead, keep), (len(repeated), repeated + moved)]


def _verified(drafts: list[_Draft], budget: _Budget, min_tokens: int) -> list[list[_Piece]]:
    """Drafts whose real count fits; one that doesn't is re-packed under a tighter limit."""
    chunks: list[list[_Piece]] = []
    for lead, pieces in drafts:
        excess = budget.overflow(pieces)
        if excess <= 0:
            chunks.append(pieces)
            continue
        tighter = replace(budget, limit=budget.limit - excess)
        if tighter.limit < 1:
            raise ValueError("cannot fit text under the token budget; is max_tokens too small?")
        fresh = [part for piece in pieces[lead:] for part in _refit(piece, tighter)]
        repacked = _pack(fresh, tighter, min_tokens, lead=pieces[:lead])
        chunks.extend(_verified(repacked, tighter, min_tokens))
    return chunks


def _refit(piece: _Piece, budget: _Budget) -> list[_Piece]:
    if piece.tokens <= budget.limit:
        return [piece]
    return _fit(piece, (_WORD,), budget)


def _text(pieces: list[_Piece]) -> str:
    """The chunk text: each block's span from its first to its last piece, blocks apart."""
    spans = []
    for _, group in groupby(pieces, key=lambda piece: piece.position):
        run = list(group)
        spans.append(run[0].block.text[run[0].start : run[-1].end])
    return _BLOCK_SEPARATOR.join(spans)


def _line_of(piece: _Piece, offset: int) -> int | None:
    """The source line of `offset` in the piece's block, from the block's line numbers."""
    block = piece.block
    if block.line_start is None:
        return None
    line = block.line_start + block.text.count("\n", 0, offset)
    return min(line, block.line_end) if block.line_end is not None else line


def _make_chunk(pieces: list[_Piece], heading: tuple[str, ...], ordinal: int) -> Chunk:
    starts = (_line_of(p, p.start) for p in pieces)
    ends = (_line_of(p, p.end - 1) for p in reversed(pieces))
    return Chunk(
        text=_text(pieces),
        heading=heading,
        page=pieces[0].block.page,
        line_start=next((line for line in starts if line is not None), None),
        line_end=next((line for line in ends if line is not None), None),
        ordinal=ordinal,
    )
