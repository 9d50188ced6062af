"""Files that cannot be read: readable reasons for the "failed" state."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from cove.index.document import LoadError, SkipFile
from cove.index.loaders import load_document
from cove.index.loaders.reading import check_unpacked

LIMIT = 1_000_000


def test_too_large_names_size_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"word " * 600)  # 3000 bytes
    with pytest.raises(LoadError, match=r"^too large: 3 kB > limit 1 kB$"):
        load_document(path, 1000)


def test_too_large_in_megabytes(tmp_path: Path) -> None:
    path = tmp_path / "big.pdf"
    with path.open("wb") as handle:
        handle.truncate(30_200_000)  # sparse: no need to write 30 MB
    with pytest.raises(LoadError, match=r"^too large: 30\.2 MB > limit 20 MB$"):
        load_document(path, 20_000_000)


def test_missing_file_reads_as_vanished(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="^file vanished while reading$"):
        load_document(tmp_path / "gone.md", LIMIT)


def test_symlink_loop(tmp_path: Path) -> None:
    loop = tmp_path / "loop.txt"
    loop.symlink_to(tmp_path / "loop.txt")
    with pytest.raises(LoadError, match="^symlink loop$"):
        load_document(loop, LIMIT)


def test_two_link_cycle(tmp_path: Path) -> None:
    (tmp_path / "a.md").symlink_to(tmp_path / "b.md")
    (tmp_path / "b.md").symlink_to(tmp_path / "a.md")
    with pytest.raises(LoadError, match="^symlink loop$"):
        load_document(tmp_path / "a.md", LIMIT)


def test_dangling_symlink(tmp_path: Path) -> None:
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "missing.txt")
    with pytest.raises(LoadError, match="^broken symlink"):
        load_document(link, LIMIT)


def test_symlink_to_a_file_is_followed(tmp_path: Path) -> None:
    (tmp_path / "real.txt").write_text("hello\n")
    (tmp_path / "alias.txt").symlink_to(tmp_path / "real.txt")
    assert load_document(tmp_path / "alias.txt", LIMIT).blocks[0].text == "hello"


def test_directory_with_a_supported_suffix_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "folder.md").mkdir()
    with pytest.raises(SkipFile, match="not a regular file"):
        load_document(tmp_path / "folder.md", LIMIT)


def test_a_fifo_with_a_supported_suffix_is_skipped_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "notes.md")  # opening it for reading would wait for a writer
    with pytest.raises(SkipFile, match="^not a regular file$"):
        load_document(tmp_path / "notes.md", LIMIT)


def test_a_zip_declaring_more_than_memory_allows_is_too_large_when_unpacked() -> None:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/document.xml", b"\0" * 2_000_000)
    assert len(packed.getvalue()) < 10_000  # a small file...
    with pytest.raises(LoadError, match="^too large when unpacked$"):
        check_unpacked(packed.getvalue(), limit=1_000_000)  # ...that unpacks past the limit
    check_unpacked(packed.getvalue(), limit=3_000_000)
    check_unpacked(b"not a zip at all", limit=1)  # corruption is the parser's to report


# Runs as an unprivileged user: prints "<exception type>: <message>" or "loaded".
_AS_OTHER_USER = """
import sys
from pathlib import Path
from cove.index.document import LoadError
from cove.index.loaders import load_document
try:
    load_document(Path(sys.argv[1]), 10**6)
except LoadError as exc:
    print(f"LoadError: {exc}")
else:
    print("loaded")
"""


def _unprivileged_prefixes() -> list[list[str]]:
    """Command prefixes that run a program without root's power to read any file.

    First as `nobody`; where nobody cannot reach the interpreter (a Python under /root),
    as root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH, which then obeys file modes.
    """
    prefixes = []
    if shutil.which("runuser"):
        prefixes.append(["runuser", "-u", "nobody", "--"])
    if shutil.which("setpriv"):
        prefixes.append(["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"])
    return prefixes


def test_permission_denied() -> None:
    # tmp_path lives in a root-only directory; nobody needs to reach the file itself.
    folder = Path(tempfile.mkdtemp(prefix="cove-perm-"))
    try:
        folder.chmod(0o755)
        secret = folder / "secret.md"
        secret.write_text("# private\n")
        secret.chmod(0o000)
        if os.geteuid() != 0:  # an ordinary user is already denied: test in-process
            with pytest.raises(LoadError, match="^permission denied$"):
                load_document(secret, LIMIT)
            return
        failures = []
        for prefix in _unprivileged_prefixes():
            result = subprocess.run(
                [*prefix, sys.executable, "-c", _AS_OTHER_USER, str(secret)],
                capture_output=True,
                text=True,
                timeout=60,
            )
            if result.returncode == 0:
                assert result.stdout.strip() == "LoadError: permission denied"
                return
            failures.append(f"{prefix[0]}: {result.stderr.strip()[-200:]}")
        pytest.skip(f"running as root and cannot drop privileges: {failures or 'no tools'}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
