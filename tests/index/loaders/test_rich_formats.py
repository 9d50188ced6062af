"""HTML, PDF, DOCX, PPTX and EPUB loaders on real files built with their own libraries."""

from __future__ import annotations

from pathlib import Path

import pytest

from cove.index.document import LoadError
from cove.index.loaders import load_document

from .builders import build_docx, build_epub, build_pdf, build_pptx

LIMIT = 10_000_000

HTML = """<!doctype html>
<html><head><title>Harbour guide</title><style>p { color: red }</style></head>
<body>
<nav><a href="/">Home</a> <a href="/about">About</a></nav>
<h1>Boats</h1>
<p>Small boats <b>moor</b>
   on the east side.</p>
<div>Loose text in a div <p>inner paragraph</p></div>
<h2>Fees</h2>
<ul><li>Daily: 10<ul><li>weekends: 12</li></ul></li><li>Weekly: 50</li></ul>
<pre>fee = days * 10
print(fee)</pre>
<table><tr><th>Length</th><th>Fee</th></tr><tr><td>5 m</td><td>10</td></tr></table>
<h1>Weather</h1>
<script>document.write("tracking")</script>
<p>Windy in March.</p>
</body></html>
"""


def test_html_headings_blocks_and_dropped_elements(tmp_path: Path) -> None:
    path = tmp_path / "guide.html"
    path.write_text(HTML, encoding="utf-8")
    doc = load_document(path, LIMIT)
    assert doc.format == "html"
    assert doc.title == "Harbour guide"
    assert [(b.kind, b.heading, b.text) for b in doc.blocks] == [
        ("heading", ("Boats",), "Boats"),
        ("paragraph", ("Boats",), "Small boats moor on the east side."),
        ("paragraph", ("Boats",), "Loose text in a div"),
        ("paragraph", ("Boats",), "inner paragraph"),
        ("heading", ("Boats", "Fees"), "Fees"),
        ("list", ("Boats", "Fees"), "- Daily: 10\n  - weekends: 12\n- Weekly: 50"),
        ("code", ("Boats", "Fees"), "fee = days * 10\nprint(fee)"),
        ("table", ("Boats", "Fees"), "Length | Fee\n5 m | 10"),
        ("heading", ("Weather",), "Weather"),
        ("paragraph", ("Weather",), "Windy in March."),
    ]
    everything = " ".join(b.text for b in doc.blocks)
    assert "Home" not in everything and "tracking" not in everything and "color" not in everything


def test_html_declared_legacy_charset(tmp_path: Path) -> None:
    path = tmp_path / "old.htm"
    markup = '<html><head><meta charset="iso-8859-1"></head><body><p>café</p></body></html>'
    path.write_bytes(markup.encode("latin-1"))
    doc = load_document(path, LIMIT)
    assert doc.blocks[0].text == "café"
    assert doc.encoding == "iso8859-1"


def test_html_without_declared_charset_is_detected_like_text(tmp_path: Path) -> None:
    path = tmp_path / "legacy.html"
    path.write_bytes("<html><body><p>Crème brûlée</p></body></html>".encode("cp1252"))
    doc = load_document(path, LIMIT)
    assert doc.blocks[0].text == "Crème brûlée"
    assert doc.encoding == "cp1252"


def test_pdf_pages_are_numbered_from_one_with_outline_trails(tmp_path: Path) -> None:
    doc = load_document(build_pdf(tmp_path / "book.pdf"), LIMIT)
    assert doc.format == "pdf"
    assert doc.title == "Loader Test PDF"
    assert {b.page for b in doc.blocks} == {1, 2}
    first = " ".join(b.text for b in doc.blocks if b.page == 1)
    second = " ".join(b.text for b in doc.blocks if b.page == 2)
    assert "harbour lights" in first and "Owls" not in first
    assert "Owls nest in the bell tower" in second
    assert {b.heading for b in doc.blocks if b.page == 1} == {("Chapter One",)}
    assert {b.heading for b in doc.blocks if b.page == 2} == {("Chapter Two",)}


def test_docx_headings_lists_and_tables_in_order(tmp_path: Path) -> None:
    doc = load_document(build_docx(tmp_path / "notes.docx"), LIMIT)
    assert doc.format == "docx"
    assert doc.title == "Quarterly Notes"
    assert [(b.kind, b.heading, b.text) for b in doc.blocks] == [
        ("heading", ("Quarterly Notes",), "Quarterly Notes"),
        ("heading", ("Quarterly Notes", "Budget"), "Budget"),
        ("paragraph", ("Quarterly Notes", "Budget"), "Spending stayed under the forecast."),
        ("heading", ("Quarterly Notes", "Budget", "Travel"), "Travel"),
        ("list", ("Quarterly Notes", "Budget", "Travel"), "- Trains to Lyon\n- Ferry to Bilbao"),
        ("table", ("Quarterly Notes", "Budget", "Travel"), "City | Cost\nLyon | 120"),
        ("heading", ("Quarterly Notes", "Hiring"), "Hiring"),
        ("paragraph", ("Quarterly Notes", "Hiring"), "Two engineers joined in May."),
    ]
    assert all(b.page is None for b in doc.blocks)


def test_pptx_one_page_per_slide_with_title_as_heading(tmp_path: Path) -> None:
    doc = load_document(build_pptx(tmp_path / "deck.pptx"), LIMIT)
    assert doc.format == "pptx"
    assert doc.title == "Roadmap"
    assert [(b.page, b.kind, b.heading, b.text) for b in doc.blocks] == [
        (1, "heading", ("Roadmap",), "Roadmap"),
        (1, "list", ("Roadmap",), "- Ship the indexer\n- Measure recall"),
        (1, "paragraph", ("Roadmap",), "Mention the offline guarantee."),
        (2, "heading", ("Costs",), "Costs"),
        (2, "table", ("Costs",), "Item | Euros\nDisks | 300"),
    ]


def test_epub_chapters_in_spine_order_through_the_html_loader(tmp_path: Path) -> None:
    doc = load_document(build_epub(tmp_path / "book.epub"), LIMIT)
    assert doc.format == "epub"
    assert doc.title == "The Lighthouse Keeper"
    assert [(b.kind, b.heading, b.text) for b in doc.blocks] == [
        ("heading", ("Arrival",), "Arrival"),
        ("paragraph", ("Arrival",), "The keeper climbed the stairs."),
        ("heading", ("Storm",), "Storm"),
        ("paragraph", ("Storm",), "Waves hit the rocks."),
    ]


def test_corrupt_pdf_is_a_load_error_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ngarbage without xref")
    with pytest.raises(LoadError, match=r"^corrupt PDF: \S"):
        load_document(path, LIMIT)


def test_truncated_pdf_is_a_load_error(tmp_path: Path) -> None:
    data = build_pdf(tmp_path / "whole.pdf").read_bytes()
    path = tmp_path / "half.pdf"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(LoadError, match="^corrupt PDF"):
        load_document(path, LIMIT)


@pytest.mark.parametrize(
    ("name", "kind"), [("bad.docx", "DOCX"), ("bad.pptx", "PPTX"), ("bad.epub", "EPUB")]
)
def test_corrupt_office_and_epub_files_are_load_errors(
    tmp_path: Path, name: str, kind: str
) -> None:
    path = tmp_path / name
    path.write_bytes(b"this is plain text pretending to be a zip package")
    with pytest.raises(LoadError, match=rf"^corrupt {kind}: \S"):
        load_document(path, LIMIT)


def test_truncated_docx_is_a_load_error(tmp_path: Path) -> None:
    data = build_docx(tmp_path / "whole.docx").read_bytes()
    path = tmp_path / "half.docx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError, match="^corrupt DOCX"):
        load_document(path, LIMIT)
