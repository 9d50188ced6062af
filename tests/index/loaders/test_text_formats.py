"""Text-family loaders on real files: blocks, heading trails and line ranges."""

from __future__ import annotations

from pathlib import Path

import pytest

from cove.index.document import Block, SkipFile
from cove.index.loaders import SUPPORTED_SUFFIXES, load_document

LIMIT = 1_000_000


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def lines_of(path: Path, block: Block) -> list[str]:
    """The source lines a block claims to come from."""
    assert block.line_start is not None and block.line_end is not None
    return path.read_text(encoding="utf-8").split("\n")[block.line_start - 1 : block.line_end]


MARKDOWN = """\
# Travel notes

We left early
and arrived late.

## Trains

```python
def fare(km):

    return km * 0.2
```

- Lyon
- Turin
  with a stop

- Milan

Setext title
------------

~~~
# not a heading
~~~

| city | cost |
|------|------|
| Lyon | 120  |

### Deeper ###
Last words.

Top again
=========
"""


def test_markdown_blocks_trails_and_line_ranges(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.md", MARKDOWN)
    doc = load_document(path, LIMIT)
    assert doc.format == "markdown"
    assert doc.title == "Travel notes"
    assert doc.encoding == "utf-8"
    summary = [(b.kind, b.heading, b.line_start, b.line_end) for b in doc.blocks]
    assert summary == [
        ("heading", ("Travel notes",), 1, 1),
        ("paragraph", ("Travel notes",), 3, 4),
        ("heading", ("Travel notes", "Trains"), 6, 6),
        ("code", ("Travel notes", "Trains"), 9, 11),
        ("list", ("Travel notes", "Trains"), 14, 18),
        ("heading", ("Travel notes", "Setext title"), 20, 21),
        ("code", ("Travel notes", "Setext title"), 24, 24),
        ("table", ("Travel notes", "Setext title"), 27, 29),
        ("heading", ("Travel notes", "Setext title", "Deeper"), 31, 31),
        ("paragraph", ("Travel notes", "Setext title", "Deeper"), 32, 32),
        ("heading", ("Top again",), 34, 35),
    ]
    by_kind = {b.kind: b for b in reversed(doc.blocks)}
    # The fenced block is one block, blank line included; its range is the lines between
    # the fences, so that its text lines are the file's lines.
    assert by_kind["code"].text == "def fare(km):\n\n    return km * 0.2"
    assert by_kind["code"].text == "\n".join(lines_of(path, by_kind["code"]))
    assert by_kind["list"].text == "- Lyon\n- Turin\n  with a stop\n\n- Milan"
    assert doc.blocks[1].text == "We left early\nand arrived late."
    assert [b.level for b in doc.blocks if b.kind == "heading"] == [1, 2, 2, 3, 1]
    # "# not a heading" inside ~~~ stays code.
    assert doc.blocks[6].text == "# not a heading"


def test_markdown_front_matter_title_and_unclosed_fence(tmp_path: Path) -> None:
    path = write(tmp_path / "post.markdown", '---\ntitle: "Hello"\n---\nIntro\n\n```\ncode\n')
    doc = load_document(path, LIMIT)
    assert doc.title == "Hello"
    assert [(b.kind, b.text, b.line_start, b.line_end) for b in doc.blocks] == [
        ("paragraph", "Intro", 4, 4),
        ("code", "code", 7, 7),
    ]


RST = """\
=============
Field Guide
=============

Birds of the coast.

Gulls
=====

Identify them by the beak::

    if beak == "yellow":
        return "herring gull"

After the literal block.

Juveniles
---------

- brown plumage
- dark bill

.. code-block:: python
   :linenos:

   print("gull")

Terns
=====

Fast fliers.
"""


def test_rst_levels_by_first_appearance_and_literal_blocks(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path / "guide.rst", RST), LIMIT)
    assert doc.format == "rst"
    assert doc.title == "Field Guide"
    summary = [(b.kind, b.heading[-1] if b.heading else None, b.level) for b in doc.blocks]
    assert summary == [
        ("heading", "Field Guide", 1),
        ("paragraph", "Field Guide", 0),
        ("heading", "Gulls", 2),
        ("paragraph", "Gulls", 0),
        ("code", "Gulls", 0),
        ("paragraph", "Gulls", 0),
        ("heading", "Juveniles", 3),
        ("list", "Juveniles", 0),
        ("code", "Juveniles", 0),
        ("heading", "Terns", 2),
        ("paragraph", "Terns", 0),
    ]
    assert doc.blocks[6].heading == ("Field Guide", "Gulls", "Juveniles")
    assert doc.blocks[9].heading == ("Field Guide", "Terns")
    assert doc.blocks[3].text == "Identify them by the beak:"
    literal = doc.blocks[4]
    assert literal.text == 'if beak == "yellow":\n    return "herring gull"'
    assert (literal.line_start, literal.line_end) == (12, 13)
    directive = doc.blocks[8]
    assert directive.text == 'print("gull")'
    assert (directive.line_start, directive.line_end) == (26, 26)


def test_org_headings_source_blocks_and_drawers(tmp_path: Path) -> None:
    text = (
        "#+TITLE: Garden\n"
        "* Vegetables :food:\n"
        ":PROPERTIES:\n:ID: 42\n:END:\n"
        "Tomatoes need sun.\n"
        "** Watering\n"
        "- mornings\n- evenings\n"
        "#+BEGIN_SRC sh\nwater --all\n\nsleep 60\n#+END_SRC\n"
        "* Flowers\n"
        "Roses.\n"
    )
    doc = load_document(write(tmp_path / "garden.org", text), LIMIT)
    assert doc.format == "org"
    assert doc.title == "Garden"
    assert [(b.kind, b.heading, b.line_start, b.line_end) for b in doc.blocks] == [
        ("heading", ("Vegetables",), 2, 2),
        ("paragraph", ("Vegetables",), 6, 6),
        ("heading", ("Vegetables", "Watering"), 7, 7),
        ("list", ("Vegetables", "Watering"), 8, 9),
        ("code", ("Vegetables", "Watering"), 11, 13),
        ("heading", ("Flowers",), 15, 15),
        ("paragraph", ("Flowers",), 16, 16),
    ]
    assert doc.blocks[4].text == "water --all\n\nsleep 60"


def test_plain_text_paragraphs_with_line_ranges(tmp_path: Path) -> None:
    path = write(tmp_path / "memo.txt", "\n\nFirst para\nstill first\n\n\nSecond\n")
    doc = load_document(path, LIMIT)
    assert doc.format == "text"
    assert [(b.kind, b.text, b.line_start, b.line_end, b.heading) for b in doc.blocks] == [
        ("paragraph", "First para\nstill first", 3, 4, ()),
        ("paragraph", "Second", 7, 7, ()),
    ]


ASCIIDOC = """\
git-rebase(1)
=============

NAME
----
git-rebase - Reapply commits
on top of another base tip
--------------------------
Not a title: it does not start a block.

A sentence that runs on and then has a short rule under it.
---
"""


def test_plain_text_titles_underlined_as_in_asciidoc_head_their_paragraphs(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "git-rebase.txt", ASCIIDOC)
    doc = load_document(path, LIMIT)
    assert doc.title == "git-rebase(1)"
    assert [(b.kind, b.heading, b.line_start, b.line_end) for b in doc.blocks] == [
        ("heading", ("git-rebase(1)",), 1, 2),
        ("heading", ("git-rebase(1)", "NAME"), 4, 5),
        ("paragraph", ("git-rebase(1)", "NAME"), 6, 9),
        ("paragraph", ("git-rebase(1)", "NAME"), 11, 12),
    ]
    assert all(lines_of(path, b)[0].startswith(b.text.split("\n")[0]) for b in doc.blocks)


def test_code_groups_keep_indentation_and_line_ranges(tmp_path: Path) -> None:
    source = "import os\n\n\ndef main():\n    x = 1\n    return x\n\nclass A:\n    pass\n"
    path = write(tmp_path / "tool.py", source)
    doc = load_document(path, LIMIT)
    assert doc.format == "code"
    assert [(b.kind, b.line_start, b.line_end) for b in doc.blocks] == [
        ("code", 1, 1),
        ("code", 4, 6),
        ("code", 8, 9),
    ]
    assert doc.blocks[1].text == "def main():\n    x = 1\n    return x"
    for block in doc.blocks:
        assert block.text == "\n".join(lines_of(path, block))


def test_long_code_without_blank_lines_is_cut_with_exact_ranges(tmp_path: Path) -> None:
    path = write(tmp_path / "long.go", "".join(f"x{i} := {i}\n" for i in range(150)))
    doc = load_document(path, LIMIT)
    assert [(b.line_start, b.line_end) for b in doc.blocks] == [(1, 60), (61, 120), (121, 150)]


def test_csv_and_json_read_as_text_with_line_numbers(tmp_path: Path) -> None:
    rows = "name,city\n" + "".join(f"p{i},c{i}\n" for i in range(50))
    doc = load_document(write(tmp_path / "people.csv", rows), LIMIT)
    assert doc.format == "text"
    assert [(b.kind, b.line_start, b.line_end) for b in doc.blocks] == [
        ("table", 1, 40),
        ("table", 41, 51),
    ]
    # The header row is every piece's heading: a later piece still says what its columns are.
    assert doc.blocks[1].text.split("\n")[0] == "p39,c39"
    assert {b.heading for b in doc.blocks} == {("name,city",)}

    doc = load_document(write(tmp_path / "data.json", '{\n  "a": 1,\n  "b": [2, 3]\n}\n'), LIMIT)
    assert doc.format == "text"
    assert [(b.line_start, b.line_end) for b in doc.blocks] == [(1, 4)]
    assert '"b": [2, 3]' in doc.blocks[0].text


@pytest.mark.parametrize("name", ["empty.md", "empty.txt", "empty.py", "empty.pdf", "empty.docx"])
def test_empty_file_gives_document_without_blocks(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    doc = load_document(path, LIMIT)
    assert doc.blocks == []
    assert doc.path == path


def test_latin1_text_is_decoded_and_encoding_recorded(tmp_path: Path) -> None:
    path = tmp_path / "menu.txt"
    path.write_bytes(b"caf\xe9")
    doc = load_document(path, LIMIT)
    assert doc.blocks[0].text == "café"
    assert doc.encoding in ("cp1252", "iso8859-1")

    longer = tmp_path / "lettre.md"
    longer.write_bytes(
        "# Lettre\n\nLe café était très bon. Naïve façade, à bientôt, garçon !\n".encode("latin-1")
    )
    doc = load_document(longer, LIMIT)
    assert doc.blocks[0].heading == ("Lettre",)
    assert doc.blocks[1].text == "Le café était très bon. Naïve façade, à bientôt, garçon !"
    assert doc.encoding not in (None, "utf-8")


def test_utf16_with_bom_is_text_not_binary(tmp_path: Path) -> None:
    path = tmp_path / "wide.txt"
    path.write_bytes("Hello wide world\n".encode("utf-16"))
    doc = load_document(path, LIMIT)
    assert doc.blocks[0].text == "Hello wide world"
    assert doc.encoding == "utf-16"


def test_crlf_line_endings_count_lines_like_editors(tmp_path: Path) -> None:
    path = tmp_path / "win.md"
    path.write_bytes(b"# Title\r\n\r\nBody line\r\n")
    doc = load_document(path, LIMIT)
    assert [(b.text, b.line_start) for b in doc.blocks] == [("Title", 1), ("Body line", 3)]


def test_binary_content_named_md_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "photo.md"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    with pytest.raises(SkipFile, match="binary"):
        load_document(path, LIMIT)


def test_control_characters_without_nul_are_binary(tmp_path: Path) -> None:
    path = tmp_path / "blob.txt"
    path.write_bytes(bytes(range(1, 32)) * 50 + b"some text")
    with pytest.raises(SkipFile, match="binary"):
        load_document(path, LIMIT)


@pytest.mark.parametrize("name", ["archive.zip", "image.png", "Makefile", "notes.xyz"])
def test_unknown_suffix_is_skipped_without_reading(tmp_path: Path, name: str) -> None:
    # The file does not even exist: the suffix alone decides.
    with pytest.raises(SkipFile, match="unsupported"):
        load_document(tmp_path / name, LIMIT)


def test_suffixes_are_case_insensitive_and_listed(tmp_path: Path) -> None:
    path = write(tmp_path / "README.MD", "# Read me\n")
    assert load_document(path, LIMIT).format == "markdown"
    expected = {".md", ".txt", ".rst", ".org", ".py", ".csv", ".json", ".html", ".htm"}
    expected |= {".pdf", ".docx", ".pptx", ".epub"}
    assert expected <= SUPPORTED_SUFFIXES
    assert isinstance(SUPPORTED_SUFFIXES, frozenset)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("notes.md", MARKDOWN),
        ("guide.rst", RST),
        ("garden.org", "* A\n#+begin_src\n\n  x = 1\n\n#+end_src\n- a\n  - b\n"),
        ("tool.py", "\n\ndef f():\n    return 1\n\n\nx = 2\n"),
        ("memo.txt", "  indented first\nsecond\n\nthird\n"),
        ("rows.csv", "a,b\n1,2\n\n3,4\n"),
    ],
)
def test_block_text_lines_are_the_files_lines(tmp_path: Path, name: str, text: str) -> None:
    """Line k of a block's text is line line_start + k of the file (what chunking relies on).

    Headings excepted: a setext or adorned title is one line of text over two or three.
    """
    path = write(tmp_path / name, text)
    blocks = [b for b in load_document(path, LIMIT).blocks if b.kind != "heading"]
    assert blocks
    for block in blocks:
        source = lines_of(path, block)
        assert len(source) == block.text.count("\n") + 1, block
        for own, original in zip(block.text.split("\n"), source, strict=True):
            # Indentation may be trimmed, and reST's "::" shortened; the words stay put.
            assert own.strip() in original, (block, source)
