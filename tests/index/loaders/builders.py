"""Real PDF, DOCX, PPTX and EPUB files built with their libraries, for the loader tests."""

from __future__ import annotations

from pathlib import Path

import docx
import pptx
from ebooklib import epub
from fpdf import FPDF
from pptx.util import Inches


def build_pdf(path: Path) -> Path:
    """Two pages, each opening an outline section: "Chapter One" then "Chapter Two"."""
    pdf = FPDF()
    pdf.set_title("Loader Test PDF")
    pdf.set_font("Helvetica", size=12)
    for number, (section, body) in enumerate(
        [
            ("Chapter One", "The harbour lights were green on the first page."),
            ("Chapter Two", "Owls nest in the bell tower on the second page."),
        ],
        start=1,
    ):
        pdf.add_page()
        pdf.start_section(section)
        pdf.cell(text=f"{section} heading text")
        pdf.ln(20)
        pdf.multi_cell(w=0, text=body)
        pdf.ln(20)
        pdf.multi_cell(w=0, text=f"Closing words of page {number}.")
    pdf.output(str(path))
    return path


def build_docx(path: Path) -> Path:
    document = docx.Document()
    document.core_properties.title = "Quarterly Notes"
    document.add_heading("Quarterly Notes", level=0)  # the "Title" style
    document.add_heading("Budget", level=1)
    document.add_paragraph("Spending stayed under the forecast.")
    document.add_heading("Travel", level=2)
    document.add_paragraph("Trains to Lyon", style="List Bullet")
    document.add_paragraph("Ferry to Bilbao", style="List Bullet")
    table = document.add_table(rows=2, cols=2)
    for row, values in zip(table.rows, [("City", "Cost"), ("Lyon", "120")], strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_heading("Hiring", level=1)
    document.add_paragraph("Two engineers joined in May.")
    document.save(str(path))
    return path


def build_pptx(path: Path) -> Path:
    presentation = pptx.Presentation()
    first = presentation.slides.add_slide(presentation.slide_layouts[1])  # title + content
    first.shapes.title.text = "Roadmap"
    body = first.placeholders[1].text_frame
    body.text = "Ship the indexer"
    body.add_paragraph().text = "Measure recall"
    first.notes_slide.notes_text_frame.text = "Mention the offline guarantee."
    second = presentation.slides.add_slide(presentation.slide_layouts[5])  # title only
    second.shapes.title.text = "Costs"
    shape = second.shapes.add_table(2, 2, Inches(1), Inches(2), Inches(4), Inches(1))
    for r, values in enumerate([("Item", "Euros"), ("Disks", "300")]):
        for c, value in enumerate(values):
            shape.table.cell(r, c).text = value
    presentation.save(str(path))
    return path


def build_epub(path: Path) -> Path:
    book = epub.EpubBook()
    book.set_identifier("cove-test-book")
    book.set_title("The Lighthouse Keeper")
    book.set_language("en")
    chapters = []
    for number, (heading, text) in enumerate(
        [("Arrival", "The keeper climbed the stairs."), ("Storm", "Waves hit the rocks.")],
        start=1,
    ):
        chapter = epub.EpubHtml(title=heading, file_name=f"ch{number}.xhtml", lang="en")
        chapter.content = (
            f"<html><body><h1>{heading}</h1><p>{text}</p>"
            f"<script>var hidden = 1;</script></body></html>"
        )
        book.add_item(chapter)
        chapters.append(chapter)
    book.toc = chapters
    book.add_item(epub.EpubNcx())
    book.add_item(epub.EpubNav())
    book.spine = ["nav", *chapters]
    epub.write_epub(str(path), book)
    return path
