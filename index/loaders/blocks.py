"""Helpers shared by the loaders: the heading trail and grouping lines into blocks."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator

from cove.index.document import Block, BlockKind

_SPACES = re.compile(r"\s+")


def split_lines(text: str) -> list[str]:
    """Lines of a text, where "a\nb\n" is two lines, not three with an empty last one."""
    return text.removesuffix("\n").split("\n") if text else []


def squash(text: str) -> str:
    """Collapse runs of whitespace (as HTML and PDF text need) and trim the ends."""
    return _SPACES.sub(" ", text).strip()


class HeadingTrail:
    """The headings the current position sits under, outermost first.

    A heading of rank N closes every open heading of rank N or deeper, so "#", "###",
    "##" gives the trail (h1, h2) at the end: ranks need not be consecutive.
    """

    def __init__(self) -> None:
        self._open: list[tuple[int, str]] = []

    def enter(self, rank: int, title: str) -> tuple[str, ...]:
        """Open a heading and return the trail that ends with it."""
        while self._open and self._open[-1][0] >= rank:
            self._open.pop()
        self._open.append((rank, title))
        return self.current

    @property
    def current(self) -> tuple[str, ...]:
        return tuple(title for _, title in self._open)

    @property
    def depth(self) -> int:
        return len(self._open)


def blank_separated(
    lines: list[str], start: int = 0, end: int | None = None, max_lines: int | None = None
) -> Iterator[tuple[int, int]]:
    """Yield (first, last) 0-based inclusive indexes of runs of non-blank lines.

    With `max_lines`, a longer run is cut into pieces of that many lines, so that a long
    function or a data file without blank lines still gets precise line ranges.
    """
    end = len(lines) if end is None else end
    i = start
    while i < end:
        if not lines[i].strip():
            i += 1
            continue
        first = i
        while i < end and lines[i].strip():
            i += 1
        last = i - 1
        if max_lines is None:
            yield first, last
            continue
        for piece in range(first, last + 1, max_lines):
            yield piece, min(piece + max_lines - 1, last)


class LineBlocks:
    """Collects blocks of a line-based text format, with 1-based inclusive line ranges.

    Parsers call `heading` and `add` with 0-based line indexes into `lines`.
    """

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.blocks: list[Block] = []
        self.trail = HeadingTrail()
        self.title: str | None = None

    def heading(self, rank: int, text: str, first: int, last: int) -> None:
        """Add a heading block of level `rank`; the first level-1 heading titles the document."""
        text = squash(text)
        if not text:
            return
        trail = self.trail.enter(rank, text)
        self.blocks.append(
            Block(text, "heading", trail, level=rank, line_start=first + 1, line_end=last + 1)
        )
        if self.title is None and rank == 1:
            self.title = text

    def add(self, kind: BlockKind, first: int, last: int, text: str | None = None) -> None:
        """Add a block over lines first..last; by default its text is those lines.

        The text's lines stay aligned with the file's (its line k is line_start + k), which
        the chunker relies on to give each chunk its own line range; leading and trailing
        empty lines are trimmed and the range with them. Paragraph lines lose their
        indentation; code, lists and tables keep their relative indentation (it carries
        meaning there). Blank blocks are dropped.
        """
        if text is None:
            raw = self.lines[first : last + 1]
            if kind == "paragraph":
                text = "\n".join(line.strip() for line in raw)
            else:
                text = textwrap.dedent("\n".join(line.rstrip() for line in raw))
        if not text.strip():
            return
        all_lines = text.split("\n")
        top = next(k for k, line in enumerate(all_lines) if line.strip())
        bottom = max(k for k, line in enumerate(all_lines) if line.strip())
        text = "\n".join(all_lines[top : bottom + 1])
        start, end = first + top, first + bottom
        self.blocks.append(
            Block(text, kind, self.trail.current, line_start=start + 1, line_end=end + 1)
        )
