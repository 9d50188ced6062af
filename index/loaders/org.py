"""Org-mode to blocks: "*" headings, source and example blocks, lists and tables."""

from __future__ import annotations

import re

from .blocks import LineBlocks, split_lines

_HEADING = re.compile(r"^(\*+)[ \t]+(.*?)(?:[ \t]+:[\w@#%:]+:)?[ \t]*$")
_BEGIN = re.compile(r"^[ \t]*#\+begin_(\w+)", re.IGNORECASE)
_KEYWORD = re.compile(r"^[ \t]*#\+(\w+):[ \t]*(.*)$")
_LIST_ITEM = re.compile(r"^(?:[ \t]*[-+]|[ \t]+\*|[ \t]*\d+[.)])[ \t]+\S")
_DRAWER = re.compile(r"^[ \t]*:[\w-]+:[ \t]*$")
_CODE_BLOCKS = ("src", "example")


def _is_blank(line: str) -> bool:
    return not line.strip()


def _is_structural(line: str) -> bool:
    """A line that starts a new block even without a blank line before it."""
    stripped = line.lstrip()
    return bool(
        _HEADING.match(line)
        or stripped.startswith(("#+", "|"))
        or _LIST_ITEM.match(line)
        or _DRAWER.match(line)
    )


def parse_org(text: str) -> LineBlocks:
    """Split an Org document into heading, paragraph, code, list and table blocks."""
    lines = split_lines(text)
    doc = LineBlocks(lines)
    n = len(lines)
    i = 0
    title: str | None = None
    while i < n:
        line = lines[i]
        stripped = line.strip()
        if not stripped or (line.startswith("#") and not line.startswith("#+")):
            i += 1  # blank lines and "# comments"
            continue
        if heading := _HEADING.match(line):
            doc.heading(len(heading.group(1)), heading.group(2), i, i)
            i += 1
            continue
        if begin := _BEGIN.match(line):
            name = begin.group(1).lower()
            end = re.compile(rf"^[ \t]*#\+end_{name}\b", re.IGNORECASE)
            j = i + 1
            while j < n and not end.match(lines[j]):
                j += 1
            if name in _CODE_BLOCKS:
                doc.add("code", i + 1, j - 1, "\n".join(lines[i + 1 : j]))
                i = j + 1
            else:
                i += 1  # quote, verse, center...: the markers go, the content stays as text
            continue
        if keyword := _KEYWORD.match(line):
            if keyword.group(1).lower() == "title" and title is None:
                title = keyword.group(2).strip() or None
            i += 1
            continue
        if stripped.startswith("#+"):  # #+end_quote and other bare markers
            i += 1
            continue
        if _DRAWER.match(line):  # :PROPERTIES: ... :END: holds metadata, not prose
            j = i + 1
            while j < n and lines[j].strip().upper() != ":END:":
                j += 1
            i = j + 1 if j < n else i + 1
            continue
        j = i + 1
        if stripped.startswith("|"):
            while j < n and lines[j].lstrip().startswith("|"):
                j += 1
            doc.add("table", i, j - 1)
        elif _LIST_ITEM.match(line):
            while (
                j < n
                and not _is_blank(lines[j])
                and (_LIST_ITEM.match(lines[j]) or not _is_structural(lines[j]))
            ):
                j += 1
            doc.add("list", i, j - 1)
        else:
            while j < n and not _is_blank(lines[j]) and not _is_structural(lines[j]):
                j += 1
            doc.add("paragraph", i, j - 1)
        i = j
    if title is not None:
        doc.title = title
    return doc
