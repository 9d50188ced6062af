"""reStructuredText to blocks: adorned section titles, literal and code blocks, lists.

Section levels follow reST's own rule: each adornment style (underline character, with or
without an overline) gets the next level the first time it appears in the document.
"""

from __future__ import annotations

import re

from .blocks import LineBlocks, split_lines

# A line made of one repeated punctuation character (e.g. "=====", "-----", "~~~~").
_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1+[ \t]*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+\u2022]|#\.|\d+[.)]|\(\d+\)|[a-zA-Z][.)])[ \t]+\S")
_CODE_DIRECTIVE = re.compile(r"^\s*\.\.\s+(?:code-block|code|sourcecode)::", re.IGNORECASE)
_DIRECTIVE = re.compile(r"^\s*\.\.\s+[\w:-]+::")
_OPTION = re.compile(r"^\s+:[\w-]+:")
_SIMPLE_TABLE = re.compile(r"^=+(?:[ \t]+=+)+[ \t]*$")


def _is_blank(line: str) -> bool:
    return not line.strip()


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _indented_body(lines: list[str], i: int, base: int) -> int:
    """Last index of the block indented deeper than `base` starting at or after line i.

    Returns i - 1 when there is no such block.
    """
    last = i - 1
    j = i
    while j < len(lines) and (_is_blank(lines[j]) or _indent(lines[j]) > base):
        if not _is_blank(lines[j]):
            last = j
        j += 1
    return last


class Sections:
    """Assigns levels to adornment styles in order of first appearance."""

    def __init__(self) -> None:
        self._styles: list[tuple[str, bool]] = []

    def level(self, char: str, overlined: bool) -> int:
        style = (char, overlined)
        if style not in self._styles:
            self._styles.append(style)
        return self._styles.index(style) + 1


def title_at(lines: list[str], i: int) -> tuple[str, str, bool, int] | None:
    """A section title starting at line i: (text, char, overlined, last line index)."""
    n = len(lines)
    line = lines[i]
    over = _ADORNMENT.match(line)
    if over and i + 2 < n and not _is_blank(lines[i + 1]):
        under = lines[i + 2].strip()
        if under == line.strip():
            return lines[i + 1].strip(), over.group(1), True, i + 2
    if over or i + 1 >= n or _indent(line) > 0:
        return None
    under_match = _ADORNMENT.match(lines[i + 1])
    # reST wants the underline at least as long as the title; accept a little shorter
    # ones (common in hand-written files) but not a stray "--" under a sentence.
    if under_match and len(lines[i + 1].strip()) >= min(len(line.strip()), 3):
        return line.strip(), under_match.group(1), False, i + 1
    return None


def _literal_text(text: str) -> str:
    """The paragraph text of one that introduces a literal block with "::"."""
    if text == "::":
        return ""
    if text.endswith(" ::"):
        return text[:-3]
    return text[:-1]  # "Example::" reads "Example:"


def parse_rst(text: str) -> LineBlocks:
    """Split reStructuredText into heading, paragraph, code, list and table blocks."""
    lines = split_lines(text)
    doc = LineBlocks(lines)
    sections = Sections()
    n = len(lines)
    i = 0
    while i < n:
        line = lines[i]
        if _is_blank(line):
            i += 1
            continue
        if title := title_at(lines, i):
            text_, char, overlined, last = title
            doc.heading(sections.level(char, overlined), text_, i, last)
            i = last + 1
            continue
        if _ADORNMENT.match(line):  # a transition between sections
            i += 1
            continue
        if _CODE_DIRECTIVE.match(line):
            j = i + 1
            while j < n and _OPTION.match(lines[j]):
                j += 1
            last = _indented_body(lines, j, _indent(line))
            if last >= j:
                first = next(k for k in range(j, last + 1) if not _is_blank(lines[k]))
                doc.add("code", first, last)
            i = max(last, j - 1) + 1
            continue
        if _DIRECTIVE.match(line):
            # Other directives (note, warning, ...): their indented body is ordinary text.
            j = i + 1
            while j < n and _OPTION.match(lines[j]):
                j += 1
            i = j
            continue
        if line.lstrip().startswith(".."):  # a comment or a link target, with its body
            i = _indented_body(lines, i + 1, _indent(line)) + 1
            continue
        i = _text_block(doc, i)
    return doc


def _text_block(doc: LineBlocks, i: int) -> int:
    """Add the list, table, doctest or paragraph starting at line i; return the next index."""
    lines = doc.lines
    n = len(lines)
    line = lines[i]
    j = i
    while j < n and not _is_blank(lines[j]):
        j += 1
    last = j - 1
    if _LIST_ITEM.match(line):
        # Items may be separated by blank lines and continued by indented lines.
        base = _indent(line)
        k = j
        while k < n:
            if _is_blank(lines[k]):
                k += 1
                continue
            if _indent(lines[k]) > base or (
                _indent(lines[k]) == base and _LIST_ITEM.match(lines[k])
            ):
                last = k
                k += 1
                continue
            break
        doc.add("list", i, last)
        return last + 1
    stripped = line.lstrip()
    if stripped.startswith(("+-", "+=")) or _SIMPLE_TABLE.match(stripped):
        doc.add("table", i, last)
        return last + 1
    if stripped.startswith(">>>"):
        doc.add("code", i, last)
        return last + 1
    paragraph = "\n".join(line.strip() for line in lines[i : last + 1])
    if not paragraph.endswith("::"):
        doc.add("paragraph", i, last, paragraph)
        return last + 1
    doc.add("paragraph", i, last, _literal_text(paragraph))
    body_last = _indented_body(lines, last + 1, _indent(line))
    if body_last > last:
        first = next(k for k in range(last + 1, body_last + 1) if not _is_blank(lines[k]))
        doc.add("code", first, body_last)
        return body_last + 1
    return last + 1
