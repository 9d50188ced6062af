"""Stand-in loaders for IsolatedLoader tests; top-level so that the child can import them."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from cove.index.document import Document
from cove.index.loaders import load_document


def misbehaving_loader(path: Path, max_bytes: int) -> Document:
    """load_document, except that "slow*" files hang, "crash*" files kill the process,
    "boom*" files raise an unexpected exception, "hog*" files allocate until memory runs
    out and "bloat*" files grow close to the memory cap, then crash as a C parser might."""
    if path.name.startswith("slow"):
        time.sleep(60)
    if path.name.startswith("crash"):
        os._exit(3)
    if path.name.startswith("boom"):
        raise ValueError("parser bug")
    if path.name.startswith("hog"):
        hoard = []
        while True:
            hoard.append(bytearray(10_000_000))
    if path.name.startswith("bloat"):
        hoard = []
        with contextlib.suppress(MemoryError):  # up to the cap, and hold it there
            while True:
                hoard.append(bytearray(10_000_000))
        time.sleep(0.3)  # long enough for the parent to see it
        os.kill(os.getpid(), signal.SIGSEGV)
    return load_document(path, max_bytes)
