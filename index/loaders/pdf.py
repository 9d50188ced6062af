"""PDF to blocks with pypdf: text per page (1-based page numbers), outline as headings."""

from __future__ import annotations

import io
import logging
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import DependencyError

from cove.index.document import Block, Document, LoadError

from .blocks import squash
from .reading import read_bytes

# pypdf logs a warning for every small defect it repairs; those are not our failures.
logging.getLogger("pypdf").setLevel(logging.ERROR)


def _reason(exc: Exception) -> str:
    detail = str(exc).strip() or type(exc).__name__
    return f"corrupt PDF: {detail}"


def _outline_starts(reader: PdfReader) -> list[tuple[int, int, str]]:
    """(page index, depth, title) for each outline entry, in reading order.

    A broken outline is common and harmless: the text still loads, just without headings.
    """
    starts: list[tuple[int, int, str]] = []

    def visit(entries: list, depth: int) -> None:  # type: ignore[type-arg]
        for entry in entries:
            if isinstance(entry, list):
                visit(entry, depth + 1)
                continue
            page = reader.get_destination_page_number(entry)
            title = squash(str(entry.title or ""))
            if page is not None and page >= 0 and title:
                starts.append((page, depth, title))

    try:
        visit(reader.outline, 1)
    except Exception:  # outline trouble must not fail the document
        return []
    return sorted(starts, key=lambda start: start[0])


def _trails_by_page(reader: PdfReader, page_count: int) -> list[tuple[str, ...]]:
    """The heading trail for each page, from the outline.

    A page is labelled with the first section that starts on it (most of its text usually
    belongs there), or else with the section still open from earlier pages.
    """
    starts = _outline_starts(reader)
    trails: list[tuple[str, ...]] = []
    open_entries: list[tuple[int, str]] = []

    def enter(depth: int, title: str) -> list[tuple[int, str]]:
        return [e for e in open_entries if e[0] < depth] + [(depth, title)]

    index = 0
    for page in range(page_count):
        on_page = []
        while index < len(starts) and starts[index][0] <= page:
            on_page.append(starts[index])
            index += 1
        if on_page:
            first = enter(on_page[0][1], on_page[0][2])
            for _, depth, title in on_page:
                open_entries = enter(depth, title)
            trails.append(tuple(title for _, title in first))
        else:
            trails.append(tuple(title for _, title in open_entries))
    return trails


def _paragraphs(text: str) -> list[str]:
    """Split a page's text on blank lines; without any, the page is one block."""
    parts = [part.strip() for part in text.replace("\r\n", "\n").split("\n\n")]
    return [part for part in parts if part]


def load(path: Path, max_bytes: int, parsed_format: str) -> Document:
    """Load a PDF; every block carries its 1-based page number."""
    data = read_bytes(path, max_bytes)
    if not data:
        return Document(path, "pdf")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("encrypted PDF: a password is required")
        pages = list(reader.pages)
    except LoadError:
        raise
    except DependencyError as exc:
        raise LoadError(f"encrypted PDF: cannot decrypt ({exc})") from None
    except Exception as exc:  # pypdf raises many types on malformed input
        raise LoadError(_reason(exc)) from None

    title: str | None = None
    try:
        if reader.metadata is not None and reader.metadata.title:
            title = squash(str(reader.metadata.title)) or None
    except Exception:  # damaged metadata only costs the title
        title = None

    trails = _trails_by_page(reader, len(pages))
    blocks: list[Block] = []
    first_error: Exception | None = None
    failed = 0
    for number, page in enumerate(pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception as exc:  # one bad page should not lose the others
            first_error = first_error or exc
            failed += 1
            continue
        for paragraph in _paragraphs(text):
            blocks.append(Block(paragraph, "paragraph", trails[number - 1], page=number))
    if pages and failed == len(pages) and first_error is not None:
        raise LoadError(_reason(first_error))
    return Document(path, "pdf", blocks, title=title)
