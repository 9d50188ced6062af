"""The text family: plain text, Markdown, reST, Org, source code, CSV and JSON.

All of them are decoded the same way (BOM, UTF-8, detected legacy encoding) and every
block keeps its 1-based line range in the file.
"""

from __future__ import annotations

from pathlib import Path

from cove.index.document import Block, Document

from .blocks import LineBlocks, blank_separated, split_lines
from .markdown import parse_markdown
from .org import parse_org
from .reading import read_text
from .rst import Sections, parse_rst, title_at

# Longest block cut from code or data without blank lines: long enough to keep a function
# together, short enough that a cited line range still points somewhere useful.
MAX_CODE_LINES = 60
# Longest line plain text may underline as a title.
MAX_TITLE_CHARS = 80
# CSV is cut into tables of this many rows; the header row is each one's heading.
CSV_ROWS_PER_BLOCK = 40

# The text loaders' own names for what they parse; CSV and JSON are indexed as text.
PARSED_FORMATS = ("text", "markdown", "rst", "org", "code", "csv", "json")


def _plain(lines: list[str]) -> LineBlocks:
    """Paragraphs, under the titles the text underlines (AsciiDoc, setext Markdown and reST
    write "NAME" over "----"): a chunk of git-doc's `git-rebase.txt` then carries the trail
    "git-rebase(1) > DESCRIPTION", which the embedder reads with it."""
    doc = LineBlocks(lines)
    sections = Sections()
    start = i = 0
    while i < len(lines):
        title = _underlined_title(lines, i)
        if title is None:
            i += 1
            continue
        text, char, overlined, last = title
        for first, end in blank_separated(lines, start, i):
            doc.add("paragraph", first, end)
        doc.heading(sections.level(char, overlined), text, i, last)
        start = i = last + 1
    for first, end in blank_separated(lines, start):
        doc.add("paragraph", first, end)
    return doc


def _underlined_title(lines: list[str], i: int) -> tuple[str, str, bool, int] | None:
    """A title at line i as reST reads one, stricter for plain text: it starts a block, is
    short, and its underline is about as long as it (a rule under a sentence is not one)."""
    title = title_at(lines, i)
    if title is None or (i > 0 and lines[i - 1].strip()):
        return None
    text, _, overlined, last = title
    rule = len(lines[last].strip())
    if len(text) > MAX_TITLE_CHARS or not (overlined or abs(rule - len(text)) <= 2):
        return None
    return title


def _code(lines: list[str]) -> LineBlocks:
    doc = LineBlocks(lines)
    for first, last in blank_separated(lines, max_lines=MAX_CODE_LINES):
        # Keep indentation exactly as written: dedenting would change Python's meaning.
        doc.add("code", first, last, "\n".join(lines[first : last + 1]).rstrip())
    return doc


def _csv(lines: list[str]) -> LineBlocks:
    doc = LineBlocks(lines)
    header = next((line for line in lines if line.strip()), None)
    if header is None:
        return doc
    # The header row is the heading of every piece: a piece far down the file still says
    # what its columns are, while its text stays exactly its own lines.
    doc.trail.enter(1, header.strip())
    for first, last in blank_separated(lines, max_lines=CSV_ROWS_PER_BLOCK):
        doc.add("table", first, last, "\n".join(lines[first : last + 1]))
    return doc


def load(path: Path, max_bytes: int, parsed_format: str) -> Document:
    """Load a text-family file; `parsed_format` is one of PARSED_FORMATS."""
    text, encoding = read_text(path, max_bytes)
    if parsed_format == "markdown":
        doc = parse_markdown(text)
    elif parsed_format == "rst":
        doc = parse_rst(text)
    elif parsed_format == "org":
        doc = parse_org(text)
    elif parsed_format in ("code", "json"):
        doc = _code(split_lines(text))
    elif parsed_format == "csv":
        doc = _csv(split_lines(text))
    else:
        doc = _plain(split_lines(text))
    document_format = "text" if parsed_format in ("csv", "json") else parsed_format
    blocks: list[Block] = doc.blocks
    return Document(path, document_format, blocks, title=doc.title, encoding=encoding)
