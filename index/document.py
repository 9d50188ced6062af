"""What loaders produce and chunking consumes: a document as a list of structural blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

BlockKind = Literal["heading", "paragraph", "code", "list", "table"]


@dataclass(frozen=True)
class Block:
    """One structural unit of a document, with where it came from.

    `heading` is the trail of headings the block sits under (outermost first); a heading
    block's own trail ends with itself. Lines are 1-based and inclusive; `page` is 1-based
    (PDF pages, slides of a presentation), None where the format has no pages.
    """

    text: str
    kind: BlockKind = "paragraph"
    heading: tuple[str, ...] = ()
    level: int = 0  # heading level (1 = top) for heading blocks
    page: int | None = None
    line_start: int | None = None
    line_end: int | None = None


@dataclass
class Document:
    path: Path
    format: str  # "markdown", "text", "code", "html", "pdf", "docx", "pptx", "epub", ...
    blocks: list[Block] = field(default_factory=list)
    title: str | None = None
    encoding: str | None = None  # for text formats: the encoding it was decoded from


class SkipFile(Exception):
    """Not a document Cove reads (unknown format, binary): recorded as `skipped`."""


class LoadError(Exception):
    """A supported file that could not be read: recorded as `failed` with this reason."""
