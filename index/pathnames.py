"""File system paths as text: every name the OS can hold, kept and shown losslessly.

A Linux file name is bytes. Python reads the bytes that are not UTF-8 as lone surrogates
("surrogateescape": b"caf\\xe9.md" becomes "caf\\udce9.md"), which SQLite, JSON and
terminals refuse. Cove writes paths as text in one convention, the same in the manifest,
search results, `cove index errors`, the API and the logs, one path component at a time:

- a name that is valid UTF-8 and holds no `\\x` followed by two lower-case hex digits
  from 80 to ff is written as it is (so nearly every path is unchanged);
- any other name is escaped whole: each byte that is not valid UTF-8 becomes `\\xHH`
  (lower-case hex) and each backslash becomes `\\\\`.

So b"caf\\xe9.md" is shown as `caf\\xe9.md`, while a name really spelled `caf\\xe9.md`
is shown as `caf\\\\xe9.md`: each name has exactly one text form, and `unescape_path`
gives the file system path back.
"""

from __future__ import annotations

import os
import re

# What an escaped byte looks like; a name holding one is written in the escaped form.
_ESCAPED_BYTE = re.compile(r"\\x[89a-f][0-9a-f]")
_SURROGATE = re.compile("[\udc80-\udcff]")
_OTHER_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPE = re.compile(r"\\\\|\\x[89a-f][0-9a-f]")


def escape_path(path: str | os.PathLike[str]) -> str:
    """The text form of a file system path (as os.scandir and watchdog give it)."""
    text = os.fspath(path)
    if text.isascii() and "\\" not in text:
        return text  # the common case, unchanged
    return "/".join(_escape_name(name) for name in text.split("/"))


def unescape_path(text: str) -> str:
    """The file system path that `escape_path` wrote as `text` (a str os functions take)."""
    if "\\" not in text:
        return text
    return "/".join(_unescape_name(name) for name in text.split("/"))


def printable(text: str) -> str:
    """`text` (a reason, a message) with undecodable bytes written as `\\xHH`."""
    text = _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)
    return _OTHER_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _escape_name(name: str) -> str:
    if not _SURROGATE.search(name) and not _ESCAPED_BYTE.search(name):
        return printable(name)  # printable(): surrogates not from a file name, if any
    escaped = name.replace("\\", "\\\\")
    return _SURROGATE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", escaped)


def _unescape_name(name: str) -> str:
    if not _ESCAPED_BYTE.search(name):
        return name  # written as it is
    return _ESCAPE.sub(
        lambda m: "\\" if m.group() == "\\\\" else chr(0xDC00 + int(m.group()[2:], 16)), name
    )
