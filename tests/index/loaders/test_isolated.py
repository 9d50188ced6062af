"""IsolatedLoader: a real child process, real time limits, a real crash."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cove.index.document import LoadError, SkipFile
from cove.index.loaders import load_document
from cove.index.loaders.isolated import IsolatedLoader

from .helpers import misbehaving_loader

LIMIT = 1_000_000
TIMEOUT_S = 1.5
MEMORY = 256_000_000


@pytest.fixture(scope="module")
def loader() -> Iterator[IsolatedLoader]:
    """One child for the module: starting one costs about a second."""
    with IsolatedLoader(TIMEOUT_S, LIMIT, loader=misbehaving_loader) as isolated:
        yield isolated


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_round_trip_matches_in_process_loading(loader: IsolatedLoader, tmp_path: Path) -> None:
    path = write(tmp_path / "notes.md", "# Title\n\nBody text.\n\n```\ncode\n```\n")
    assert loader.load(path) == load_document(path, LIMIT)


def test_child_errors_arrive_as_the_same_types(loader: IsolatedLoader, tmp_path: Path) -> None:
    with pytest.raises(SkipFile, match="unsupported"):
        loader.load(tmp_path / "photo.jpg")
    with pytest.raises(LoadError, match="^file vanished while reading$"):
        loader.load(tmp_path / "missing.txt")
    big = write(tmp_path / "big.txt", "x" * (LIMIT + 1))
    with pytest.raises(LoadError, match="^too large"):
        loader.load(big)


def test_the_child_is_reused_across_files(loader: IsolatedLoader, tmp_path: Path) -> None:
    paths = [write(tmp_path / f"n{i}.txt", f"note {i}\n") for i in range(200)]
    loader.load(paths[0])
    pid = loader.pid
    started = time.perf_counter()
    for i, path in enumerate(paths):
        assert loader.load(path).blocks[0].text == f"note {i}"
    elapsed = time.perf_counter() - started
    assert loader.pid == pid
    # A round trip is a pipe write, a small read and a pickle each way: well under 25 ms.
    assert elapsed / len(paths) < 0.025


def test_unexpected_exception_in_the_child_fails_only_that_file(
    loader: IsolatedLoader, tmp_path: Path
) -> None:
    with pytest.raises(LoadError, match="^loader error: ValueError: parser bug$"):
        loader.load(write(tmp_path / "boom.txt", "x\n"))
    assert loader.load(write(tmp_path / "fine.txt", "fine\n")).blocks[0].text == "fine"


def test_timeout_kills_the_child_and_the_next_file_loads(
    loader: IsolatedLoader, tmp_path: Path
) -> None:
    loader.load(write(tmp_path / "warm.txt", "warm\n"))
    old_pid = loader.pid
    started = time.perf_counter()
    with pytest.raises(LoadError, match=r"^timed out after 1\.5 s$"):
        loader.load(write(tmp_path / "slow.txt", "never read\n"))
    assert time.perf_counter() - started < TIMEOUT_S + 2
    assert loader.load(write(tmp_path / "after.md", "# After\n")).title == "After"
    assert loader.pid != old_pid


def test_crash_is_a_load_error_and_the_next_file_loads(
    loader: IsolatedLoader, tmp_path: Path
) -> None:
    with pytest.raises(LoadError, match=r"^loader process crashed \(exit code 3\)$"):
        loader.load(write(tmp_path / "crash.txt", "x\n"))
    assert loader.load(write(tmp_path / "next.txt", "next\n")).blocks[0].text == "next"


@pytest.fixture(scope="module")
def capped() -> Iterator[IsolatedLoader]:
    """A child whose address space is capped at MEMORY bytes."""
    with IsolatedLoader(30, LIMIT, loader=misbehaving_loader, memory_bytes=MEMORY) as isolated:
        yield isolated


def test_running_out_of_memory_under_the_cap_is_too_large_when_unpacked(
    capped: IsolatedLoader, tmp_path: Path
) -> None:
    with pytest.raises(LoadError, match="^too large when unpacked$"):
        capped.load(write(tmp_path / "hog.txt", "x\n"))
    assert capped.load(write(tmp_path / "after.txt", "after\n")).blocks[0].text == "after"


def test_dying_at_the_cap_is_too_large_when_unpacked(
    capped: IsolatedLoader, tmp_path: Path
) -> None:
    with pytest.raises(LoadError, match="^too large when unpacked$"):
        capped.load(write(tmp_path / "bloat.txt", "x\n"))
    assert capped.load(write(tmp_path / "next.txt", "next\n")).blocks[0].text == "next"


def test_a_crash_far_below_the_cap_is_still_a_crash(capped: IsolatedLoader, tmp_path: Path) -> None:
    with pytest.raises(LoadError, match=r"^loader process crashed \(exit code 3\)$"):
        capped.load(write(tmp_path / "crash.txt", "x\n"))


def test_close_stops_the_child_and_refuses_more_work(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "a\n")
    with IsolatedLoader(30, LIMIT) as isolated:
        assert isolated.load(path).blocks[0].text == "a"
        assert isolated.pid is not None
    assert isolated.pid is None
    with pytest.raises(RuntimeError, match="closed"):
        isolated.load(path)
