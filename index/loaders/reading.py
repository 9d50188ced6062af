"""Reading a file's bytes safely, telling text from binary, and decoding legacy encodings."""

from __future__ import annotations

import codecs
import errno
import io
import os
import resource
import stat
import zipfile
from pathlib import Path

from charset_normalizer import from_bytes

from cove.index.document import LoadError, SkipFile

SNIFF_BYTES = 8192
# Share of control characters in the sniffed prefix above which a "text" file is binary.
# Real text has almost none; compressed or executable data is ~12% control bytes.
MAX_CONTROL_RATIO = 0.05
# Below this size charset detection is a guess (b"caf\xe9" comes back as UTF-16), so
# short undecodable text is taken as Windows-1252, the commonest legacy encoding.
MIN_DETECT_BYTES = 64
# The reason for a file that needs more memory than the loader may use: a ZIP container
# whose members add up past the limit, or a parser that ran out of memory.
TOO_LARGE_UNPACKED = "too large when unpacked"

# Bytes that appear in ordinary text: tab, newline, vertical tab, form feed, carriage
# return, and ESC (ANSI colours in logs).
_TEXT_CONTROLS = frozenset(b"\t\n\x0b\x0c\r\x1b")
_CONTROL_BYTES = bytes(b for b in [*range(32), 127] if b not in _TEXT_CONTROLS)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def format_size(n: int) -> str:
    """A byte count for people: "250 bytes", "12.5 kB", "30.2 MB" (decimal units)."""
    if n < 1000:
        return f"{n} bytes"
    for unit, scale in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9)):
        if n < scale * 1000 or unit == "GB":
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    raise AssertionError("unreachable")


def _too_large(size: int, max_bytes: int) -> LoadError:
    return LoadError(f"too large: {format_size(size)} > limit {format_size(max_bytes)}")


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """Read a whole regular file of at most `max_bytes`, mapping OS errors to reasons.

    Raises LoadError with a readable reason (permission denied, vanished, symlink loop, too
    large) and SkipFile for things that are not regular files (directories, FIFOs, sockets).
    """
    try:
        info = os.stat(path)  # follows symlinks, so a loop or a dangling link shows up here
        if not stat.S_ISREG(info.st_mode):
            raise SkipFile("not a regular file")
        if info.st_size > max_bytes:
            raise _too_large(info.st_size, max_bytes)
        # O_NONBLOCK: a file swapped for a FIFO since the stat must not block the open.
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise SkipFile("not a regular file")
            # One byte over the limit tells us the file grew after stat().
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        if os.path.islink(path):
            raise LoadError("broken symlink: its target does not exist") from None
        raise LoadError("file vanished while reading") from None
    except PermissionError:
        raise LoadError("permission denied") from None
    except IsADirectoryError:
        raise SkipFile("not a regular file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LoadError("symlink loop") from None
        raise LoadError(f"could not read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise _too_large(len(data), max_bytes)
    return data


def memory_limit() -> int | None:
    """How many bytes of address space this process may use (the loader child's memory
    cap, see isolated.py), or None when it is not limited."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    return None if soft == resource.RLIM_INFINITY else soft


def check_unpacked(data: bytes, limit: int | None = None) -> None:
    """Refuse a ZIP container (DOCX, PPTX, EPUB) whose members, as its directory declares
    them, add up to more than `limit` bytes (default: the memory this process may use):
    python-docx, python-pptx and EbookLib read every member whole, so a zip bomb would
    only fail once it had filled the memory. (zipfile never inflates a member past its
    declared size.) Raises LoadError."""
    limit = memory_limit() if limit is None else limit
    if limit is None:
        return
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return  # not a readable zip: the parser says how it is corrupt
    if unpacked > limit:
        raise LoadError(TOO_LARGE_UNPACKED)


def _bom_encoding(data: bytes) -> str | None:
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    return None


def looks_binary(data: bytes) -> bool:
    """True when the first 8 KB hold a NUL byte or too many control characters."""
    sample = data[:SNIFF_BYTES]
    if not sample or _bom_encoding(sample) in ("utf-16", "utf-32"):
        return False  # UTF-16/32 text is full of NULs but announced by its BOM
    if b"\x00" in sample:
        return True
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    return controls / len(sample) > MAX_CONTROL_RATIO


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode text bytes and say from which encoding: BOM, then UTF-8, then detection.

    Never fails on legacy text: the last resort is Latin-1, which maps every byte.
    Encodings are named as Python's codecs name them ("utf-8", "cp1252", "iso8859-1").
    """
    bom = _bom_encoding(data)
    if bom is not None:
        return data.decode(bom, errors="replace"), bom
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if len(data) >= MIN_DETECT_BYTES:
        # No NULs reach here, so a UTF-16/32 guess is a detector artefact.
        matches = [m for m in from_bytes(data) if not m.encoding.startswith(("utf_16", "utf_32"))]
        if matches:
            best = matches[0]
            # On a tie the detector's order is arbitrary (a French letter came out as
            # cp1250, "trčs"); Windows-1252 is by far the commonest legacy encoding.
            tied = [m for m in matches if (m.chaos, m.coherence) == (best.chaos, best.coherence)]
            best = next((m for m in tied if m.encoding == "cp1252"), best)
            return str(best), codecs.lookup(best.encoding).name
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "iso8859-1"


def read_text(path: Path, max_bytes: int) -> tuple[str, str]:
    """Read and decode a text file; SkipFile if it turns out to be binary.

    Line endings are normalised to "\\n" so that line numbers count the way editors do.
    """
    data = read_bytes(path, max_bytes)
    if looks_binary(data):
        raise SkipFile("binary content")
    text, encoding = decode_text(data)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, encoding
