"""Markdown to blocks: ATX and setext headings, fenced and indented code, lists, tables.

A line-oriented reading of CommonMark's block structure; inline markup is left as written
(it reads fine as plain text and the chunker needs the exact source lines anyway).
"""

from __future__ import annotations

import re

from .blocks import LineBlocks, split_lines

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_HRULE = re.compile(r"^ {0,3}(?:(?:\*[ \t]*){3,}|(?:-[ \t]*){3,}|(?:_[ \t]*){3,})$")
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")
# Only these may start a list in the middle of a paragraph (as in CommonMark), so that a
# wrapped line starting "2024. " stays prose.
_INTERRUPTING_ITEM = re.compile(r"^ {0,3}(?:[-*+]|1[.)])[ \t]+\S")
_TABLE_RULE = re.compile(r"^ {0,3}\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_INDENTED = re.compile(r"^(?: {4}|\t)")
_FRONT_TITLE = re.compile(r"""^title:\s*["']?(.*?)["']?\s*$""", re.IGNORECASE)


def _is_blank(line: str) -> bool:
    return not line.strip()


def _closing_fence(fence: str) -> re.Pattern[str]:
    return re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")


def _front_matter(lines: list[str]) -> tuple[int, str | None]:
    """Skip a YAML front-matter block; return the index after it and its title, if any."""
    if not lines or lines[0].strip() != "---":
        return 0, None
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            titles = (_FRONT_TITLE.match(line) for line in lines[1:end])
            title = next((m.group(1) for m in titles if m and m.group(1)), None)
            return end + 1, title
    return 0, None  # no closing line: it was a thematic break, not front matter


def _starts_block(line: str) -> bool:
    """A line that ends a paragraph without a blank line before it."""
    return bool(
        _ATX.match(line)
        or _FENCE.match(line)
        or _HRULE.match(line)
        or _INTERRUPTING_ITEM.match(line)
    )


def _list_end(lines: list[str], i: int) -> int:
    """Index of the last line of the list starting at line i (continuations included)."""
    last = i
    j = i + 1
    while j < len(lines):
        line = lines[j]
        if _is_blank(line):
            j += 1
            continue
        after_blank = _is_blank(lines[j - 1])
        if _ATX.match(line) or _HRULE.match(line) or (_FENCE.match(line) and line[0] != " "):
            break
        # After a blank line only another item or an indented continuation stays in the list.
        if after_blank and not (_LIST_ITEM.match(line) or line.startswith(("  ", "\t"))):
            break
        last = j
        j += 1
    return last


def _fenced_code(doc: LineBlocks, i: int, fence: str) -> int:
    """Add the fenced block opened at line i as one code block; return the next index."""
    lines = doc.lines
    closing = _closing_fence(fence)
    j = i + 1
    while j < len(lines) and not closing.match(lines[j]):
        j += 1
    # The block spans the lines between the fences (an unclosed fence runs to the end).
    doc.add("code", i + 1, j - 1, "\n".join(lines[i + 1 : j]))
    return j + 1


def parse_markdown(text: str) -> LineBlocks:
    """Split Markdown source into heading, paragraph, code, list and table blocks."""
    lines = split_lines(text)
    doc = LineBlocks(lines)
    i, front_title = _front_matter(lines)
    doc.title = front_title
    n = len(lines)
    while i < n:
        line = lines[i]
        if _is_blank(line):
            i += 1
            continue
        if fence := _FENCE.match(line):
            i = _fenced_code(doc, i, fence.group(1))
            continue
        if atx := _ATX.match(line):
            doc.heading(len(atx.group(1)), atx.group(2) or "", i, i)
            i += 1
            continue
        if _HRULE.match(line):
            i += 1
            continue
        if line.lstrip().startswith("<!--"):
            j = i
            while j < n - 1 and "-->" not in lines[j]:
                j += 1
            i = j + 1
            continue
        if _LIST_ITEM.match(line):
            last = _list_end(lines, i)
            doc.add("list", i, last)
            i = last + 1
            continue
        if "|" in line and i + 1 < n and _TABLE_RULE.match(lines[i + 1]) and "-" in lines[i + 1]:
            j = i + 2
            while j < n and "|" in lines[j] and not _is_blank(lines[j]):
                j += 1
            doc.add("table", i, j - 1)
            i = j
            continue
        if _INDENTED.match(line):
            j = last = i
            while j < n and (_is_blank(lines[j]) or _INDENTED.match(lines[j])):
                if not _is_blank(lines[j]):
                    last = j
                j += 1
            doc.add("code", i, last)
            i = last + 1
            continue
        i = _paragraph(doc, i)
    return doc


def _paragraph(doc: LineBlocks, i: int) -> int:
    """Add the paragraph (or setext heading) starting at line i; return the next index."""
    lines = doc.lines
    j = i + 1
    while j < len(lines) and not _is_blank(lines[j]):
        if setext := _SETEXT.match(lines[j]):
            title = " ".join(line.strip() for line in lines[i:j])
            doc.heading(1 if setext.group(1)[0] == "=" else 2, title, i, j)
            return j + 1
        if _starts_block(lines[j]):
            break
        j += 1
    doc.add("paragraph", i, j - 1)
    return j
