"""Word (.docx) and PowerPoint (.pptx) files with python-docx and python-pptx."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import docx
import pptx
from docx.table import Table as DocxTable
from docx.text.paragraph import Paragraph
from pptx.shapes.group import GroupShape

from cove.index.document import Block, Document, LoadError

from .blocks import HeadingTrail, squash
from .reading import check_unpacked, read_bytes

_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)
_LIST_STYLE = re.compile(r"^list\b", re.IGNORECASE)


def _open(data: bytes, opener: Any, kind: str) -> Any:
    """Open an OOXML package, turning any parse failure into a readable LoadError."""
    try:
        return opener(io.BytesIO(data))
    except Exception as exc:  # zip, XML and package errors all mean the same: unreadable
        detail = str(exc).strip() or type(exc).__name__
        raise LoadError(f"corrupt {kind}: {detail}") from None


def _heading_rank(paragraph: Paragraph) -> int | None:
    """0 for the Title style, N for "Heading N", None for body text."""
    try:
        name = paragraph.style.name if paragraph.style is not None else ""
    except (KeyError, ValueError):  # a style id missing from styles.xml
        return None
    if name.lower() == "title":
        return 0
    match = _HEADING_STYLE.match(name or "")
    return int(match.group(1)) if match else None


def _is_list_item(paragraph: Paragraph) -> bool:
    try:
        style = paragraph.style.name if paragraph.style is not None else ""
    except (KeyError, ValueError):
        style = ""
    properties = paragraph._p.pPr  # python-docx exposes numbering only through the XML
    return bool(_LIST_STYLE.match(style or "")) or (
        properties is not None and properties.numPr is not None
    )


def _docx_table_text(table: DocxTable) -> str:
    rows = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = squash(cell.text)
            # A merged cell is returned once per grid column it spans; keep it once.
            if not cells or text != cells[-1]:
                cells.append(text)
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def load_docx(path: Path, max_bytes: int) -> Document:
    """Headings from "Title"/"Heading N" styles, paragraphs, list runs and tables in order."""
    data = read_bytes(path, max_bytes)
    if not data:
        return Document(path, "docx")
    check_unpacked(data)
    document = _open(data, docx.Document, "DOCX")
    trail = HeadingTrail()
    blocks: list[Block] = []
    pending_list: list[str] = []

    def flush_list() -> None:
        if pending_list:
            blocks.append(Block("\n".join(pending_list), "list", trail.current))
            pending_list.clear()

    try:
        for item in document.iter_inner_content():
            if isinstance(item, DocxTable):
                flush_list()
                text = _docx_table_text(item)
                if text:
                    blocks.append(Block(text, "table", trail.current))
                continue
            text = item.text.strip()
            if not text:
                continue
            rank = _heading_rank(item)
            if rank is not None:
                flush_list()
                heading = trail.enter(rank, squash(text))
                blocks.append(Block(heading[-1], "heading", heading, level=len(heading)))
            elif _is_list_item(item):
                pending_list.append(f"- {text}")
            else:
                flush_list()
                blocks.append(Block(text, "paragraph", trail.current))
        flush_list()
        title = squash(document.core_properties.title or "") or None
    except LoadError:
        raise
    except Exception as exc:  # malformed XML inside a package that opened
        raise LoadError(f"corrupt DOCX: {str(exc).strip() or type(exc).__name__}") from None
    if title is None:
        title = next((b.text for b in blocks if b.kind == "heading"), None)
    return Document(path, "docx", blocks, title=title)


def _shapes(shapes: Iterable[Any]) -> Iterator[Any]:
    """Every shape on a slide, with the members of groups in place of the group."""
    for shape in shapes:
        if isinstance(shape, GroupShape):
            yield from _shapes(shape.shapes)
        else:
            yield shape


def _slide_blocks(slide: Any, number: int) -> list[Block]:
    title_shape = slide.shapes.title
    title = squash(title_shape.text_frame.text) if title_shape is not None else ""
    trail = (title,) if title else ()
    blocks = [Block(title, "heading", trail, level=1, page=number)] if title else []
    for shape in _shapes(slide.shapes):
        if title_shape is not None and shape.shape_id == title_shape.shape_id:
            continue
        if getattr(shape, "has_table", False):
            rows = [" | ".join(squash(cell.text) for cell in row.cells) for row in shape.table.rows]
            text = "\n".join(row for row in rows if row.strip(" |"))
            if text:
                blocks.append(Block(text, "table", trail, page=number))
        elif getattr(shape, "has_text_frame", False):
            paragraphs = [p for p in shape.text_frame.paragraphs if squash(p.text)]
            if not paragraphs:
                continue
            # Several paragraphs in one box are a bullet list on almost every slide.
            if len(paragraphs) > 1:
                lines = [f"{'  ' * p.level}- {squash(p.text)}" for p in paragraphs]
                blocks.append(Block("\n".join(lines), "list", trail, page=number))
            else:
                blocks.append(Block(squash(paragraphs[0].text), "paragraph", trail, page=number))
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None and notes.text.strip():
            blocks.append(Block(notes.text.strip(), "paragraph", trail, page=number))
    return blocks


def load_pptx(path: Path, max_bytes: int) -> Document:
    """One page per slide; the slide's title is its heading; speaker notes are kept."""
    data = read_bytes(path, max_bytes)
    if not data:
        return Document(path, "pptx")
    check_unpacked(data)
    presentation = _open(data, pptx.Presentation, "PPTX")
    blocks: list[Block] = []
    try:
        for number, slide in enumerate(presentation.slides, start=1):
            blocks.extend(_slide_blocks(slide, number))
        title = squash(presentation.core_properties.title or "") or None
    except Exception as exc:  # malformed XML inside a package that opened
        raise LoadError(f"corrupt PPTX: {str(exc).strip() or type(exc).__name__}") from None
    if title is None:
        title = next((b.text for b in blocks if b.kind == "heading"), None)
    return Document(path, "pptx", blocks, title=title)


def load(path: Path, max_bytes: int, parsed_format: str) -> Document:
    """Load a .docx or .pptx file (`parsed_format` "docx" or "pptx")."""
    if parsed_format == "pptx":
        return load_pptx(path, max_bytes)
    return load_docx(path, max_bytes)
