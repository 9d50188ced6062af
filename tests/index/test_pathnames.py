"""Paths as text: every name the OS can hold has one printable form, and back."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from cove.index.pathnames import escape_path, printable, unescape_path


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        (b"notes.md", "notes.md"),
        ("café ☕.md".encode(), "café ☕.md"),  # valid UTF-8 is shown as it is
        (b"a\\b.md", "a\\b.md"),  # so is a backslash that escapes nothing
        (b"caf\xe9.md", "caf\\xe9.md"),  # an undecodable byte: \xHH, lower-case
        (b"caf\\xe9.md", "caf\\\\xe9.md"),  # a name spelled like an escape: \ doubled
        (b"\\\xff", "\\\\\\xff"),  # both in one name
        (b"caf\\xE9.md", "caf\\xE9.md"),  # upper-case hex is never an escape
    ],
)
def test_a_name_is_shown_as_it_is_unless_it_must_be_escaped(name: bytes, shown: str) -> None:
    path = os.fsdecode(b"/home/ann/" + name)
    assert escape_path(path) == "/home/ann/" + shown
    escape_path(path).encode("utf-8")  # storable in SQLite, JSON and on any terminal
    assert unescape_path(escape_path(path)) == path


def test_each_name_is_escaped_alone() -> None:
    path = os.fsdecode(b"/data/caf\xe9/a\\b/x.md")
    assert escape_path(path) == "/data/caf\\xe9/a\\b/x.md"
    # So a folder's text form is the prefix of the text form of every path inside it.
    folder = os.fsdecode(b"/data/caf\xe9")
    assert escape_path(path).startswith(escape_path(folder) + "/")


def test_distinct_names_never_share_a_text_form() -> None:
    pieces = [b"\\", b"x", b"e", b"9", b"\xe9", b"\xc3\xa9", b"a", b"\xff", b"/"]
    names = {
        b"".join(combo)
        for size in range(1, 6)
        for combo in itertools.product(pieces, repeat=size)
        if combo[0] != b"/"
    }
    shown: dict[str, bytes] = {}
    for name in names:
        path = os.fsdecode(b"/d/" + name)
        text = escape_path(path)
        assert shown.setdefault(text, name) == name, (text, name, shown[text])
        assert unescape_path(text) == path


def test_the_text_form_opens_the_file(tmp_path: Path) -> None:
    odd = os.fsencode(tmp_path) + b"/caf\xe9.md"
    with open(odd, "wb") as handle:
        handle.write(b"hello\n")
    (entry,) = os.scandir(tmp_path)
    assert escape_path(entry.path) == f"{tmp_path}/caf\\xe9.md"
    with open(unescape_path(escape_path(entry.path)), "rb") as handle:
        assert handle.read() == b"hello\n"


def test_messages_quoting_an_undecodable_name_become_printable() -> None:
    message = "cannot read: " + os.fsdecode(b"caf\xe9.md")
    assert printable(message) == "cannot read: caf\\xe9.md"
