"""HTML (and the XHTML inside EPUBs) to blocks, with BeautifulSoup on lxml.

h1-h6 build the heading trail; p, lists, pre, tables and loose text become blocks;
script, style, navigation and other non-content elements are dropped.
"""

from __future__ import annotations

import codecs
import re
from codecs import BOM_UTF8
from pathlib import Path

from bs4 import BeautifulSoup
from bs4.dammit import EncodingDetector
from bs4.element import NavigableString, PreformattedString, Tag

from cove.index.document import Block, BlockKind, Document, SkipFile

from .blocks import HeadingTrail, squash
from .reading import decode_text, looks_binary, read_bytes

_XML_DECLARATION = re.compile(rb"^(\xef\xbb\xbf)?\s*<\?xml\b[^>]*?\?>")
_DECLARED_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")

# Elements that never hold the document's content.
_DROPPED = (
    "script", "style", "nav", "noscript", "template", "svg", "canvas", "iframe", "object",
    "embed", "select", "button", "head",
)  # fmt: skip
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Elements that only group other blocks: walked into, never a block themselves.
_CONTAINERS = frozenset((
    "html", "body", "div", "section", "article", "main", "header", "footer", "aside",
    "blockquote", "figure", "figcaption", "form", "fieldset", "details", "summary", "address",
    "dl", "dt", "dd", "center", "hgroup", "search", "caption",
))  # fmt: skip
_BLOCKS = frozenset({"p", "ul", "ol", "li", "pre", "table", "hr", *_HEADINGS, *_CONTAINERS})


def _list_lines(node: Tag, depth: int = 0) -> list[str]:
    """Render a ul/ol as indented "- item" (or "1. item") lines, nested lists included."""
    lines: list[str] = []
    ordered = node.name == "ol"
    for number, item in enumerate(node.find_all("li", recursive=False), start=1):
        own: list[str] = []
        nested: list[str] = []
        for child in item.children:
            if isinstance(child, Tag) and child.name in ("ul", "ol"):
                nested.extend(_list_lines(child, depth + 1))
            elif isinstance(child, Tag):
                own.append(child.get_text(" "))
            elif not isinstance(child, PreformattedString):  # comments, CDATA, doctypes
                own.append(str(child))
        text = squash(" ".join(own))
        if text:
            marker = f"{number}." if ordered else "-"
            lines.append(f"{'  ' * depth}{marker} {text}")
        lines.extend(nested)
    return lines


def _table_text(table: Tag) -> str:
    rows = []
    for row in table.find_all("tr"):
        cells = [squash(cell.get_text(" ")) for cell in row.find_all(("th", "td"))]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


class _Walker:
    """Walks the element tree in document order, emitting blocks as it goes."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.trail = HeadingTrail()
        self._inline: list[str] = []

    def _emit(self, text: str, kind: BlockKind = "paragraph", level: int = 0) -> None:
        if text.strip():
            self.blocks.append(Block(text, kind, self.trail.current, level=level))

    def _flush(self) -> None:
        """Loose text between blocks (e.g. directly inside a div) forms a paragraph."""
        text = squash("".join(self._inline))
        self._inline.clear()
        self._emit(text)

    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, PreformattedString):
                continue
            if isinstance(child, NavigableString):
                self._inline.append(str(child))
            elif isinstance(child, Tag):
                self._element(child)

    def finish(self) -> list[Block]:
        self._flush()
        return self.blocks

    def _element(self, tag: Tag) -> None:
        name = tag.name
        if name in _HEADINGS:
            self._flush()
            text = squash(tag.get_text(" "))
            if text:
                self.trail.enter(_HEADINGS[name], text)
                self._emit(text, "heading", _HEADINGS[name])
        elif name == "p":
            self._flush()
            self._emit(squash(tag.get_text(" ")))
        elif name in ("ul", "ol"):
            self._flush()
            self._emit("\n".join(_list_lines(tag)), "list")
        elif name == "li":  # an item outside any list
            self._flush()
            self._emit(f"- {squash(tag.get_text(' '))}", "list")
        elif name == "pre" or (name == "code" and "\n" in tag.get_text().strip()):
            self._flush()
            self._emit(tag.get_text().strip("\n"), "code")
        elif name == "table":
            self._flush()
            self._emit(_table_text(tag), "table")
        elif name in ("br", "hr"):
            self._inline.append("\n")
            if name == "hr":
                self._flush()
        elif name in _CONTAINERS or tag.find(_BLOCKS) is not None:
            # Containers, and inline elements wrapping blocks (<a><div>..</div></a>).
            self._flush()
            self.walk(tag)
            self._flush()
        else:
            self._inline.append(tag.get_text())


def decode_markup(markup: bytes) -> tuple[str, str]:
    """Decode HTML bytes: the charset it declares if that works, else like any text.

    Done here rather than by lxml, which reads undeclared legacy bytes as broken UTF-8.
    XHTML's XML declaration is dropped (the HTML parser would take the document for XML);
    only its encoding is kept.
    """
    declared: str | None = None
    if declaration := _XML_DECLARATION.match(markup):
        found = _DECLARED_ENCODING.search(declaration.group(0))
        declared = found.group(1).decode("ascii") if found else "utf-8"
        markup = (declaration.group(1) or b"") + markup[declaration.end() :]
    else:
        declared = EncodingDetector.find_declared_encoding(markup, is_html=True)
    if declared and not markup.startswith(BOM_UTF8):
        try:
            name = codecs.lookup(declared).name
            return markup.decode(name), name
        except (LookupError, UnicodeDecodeError):
            pass  # an unknown or wrong declaration: detect instead
    return decode_text(markup)


def parse_html(markup: bytes | str) -> tuple[list[Block], str | None, str | None]:
    """Parse HTML or XHTML into blocks; also return its title and the encoding used."""
    encoding: str | None = None
    if isinstance(markup, bytes):
        markup, encoding = decode_markup(markup)
    # lxml's HTML parser, also for XHTML: it forgives the broken markup found in the wild.
    soup = BeautifulSoup(markup, "lxml")
    title_tag = soup.find("title")
    title = squash(title_tag.get_text()) if title_tag else ""
    for tag in soup.find_all(_DROPPED):
        tag.decompose()
    walker = _Walker()
    walker.walk(soup.body or soup)
    blocks = walker.finish()
    if not title:
        title = next((b.text for b in blocks if b.kind == "heading" and b.level == 1), "")
    return blocks, title or None, encoding


def load(path: Path, max_bytes: int, parsed_format: str) -> Document:
    """Load an .html/.htm/.xhtml file."""
    data = read_bytes(path, max_bytes)
    if looks_binary(data):
        raise SkipFile("binary content")
    blocks, title, encoding = parse_html(data)
    return Document(path, "html", blocks, title=title, encoding=encoding)
