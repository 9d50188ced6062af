"""EPUB books with EbookLib: the XHTML documents of the spine, in reading order."""

from __future__ import annotations

import io
from pathlib import Path

import ebooklib
from ebooklib import epub

from cove.index.document import Block, Document, LoadError

from .blocks import squash
from .html import parse_html
from .reading import check_unpacked, read_bytes


def _corrupt(exc: Exception) -> LoadError:
    # EbookLib's EpubException keeps its message in .msg; str() would show a tuple.
    detail = str(getattr(exc, "msg", "") or exc).strip() or type(exc).__name__
    return LoadError(f"corrupt EPUB: {detail}")


def load(path: Path, max_bytes: int, parsed_format: str) -> Document:
    """Load an .epub; each chapter is parsed by the HTML loader with its own heading trail."""
    data = read_bytes(path, max_bytes)
    if not data:
        return Document(path, "epub")
    check_unpacked(data)
    try:
        # ignore_ncx given explicitly: EbookLib warns on every call when it is left out.
        book = epub.read_epub(io.BytesIO(data), options={"ignore_ncx": True})
    except Exception as exc:  # bad zip, missing container.xml, broken OPF...
        raise _corrupt(exc) from None

    blocks: list[Block] = []
    try:
        for item_id, _linear in book.spine:
            item = book.get_item_with_id(item_id)
            if item is None or item.get_type() != ebooklib.ITEM_DOCUMENT:
                continue
            chapter_blocks, _title, _encoding = parse_html(item.get_content())
            blocks.extend(chapter_blocks)
        titles = book.get_metadata("DC", "title")
    except Exception as exc:  # an unreadable chapter inside a readable container
        raise _corrupt(exc) from None
    title = squash(titles[0][0]) if titles and titles[0][0] else None
    return Document(path, "epub", blocks, title=title or None)
