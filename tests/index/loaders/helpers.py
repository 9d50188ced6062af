"""Stand-in loaders for IsolatedLoader tests; top-level so that the child can import them."""

from __future__ import annotations

import os
import time
from pathlib import Path

from cove.index.document import Document
from cove.index.loaders import load_document


def misbehaving_loader(path: Path, max_bytes: int) -> Document:
    """load_document, except that "slow*" files hang, "crash*" files kill the process and
    "boom*" files raise an unexpected exception."""
    if path.name.startswith("slow"):
        time.sleep(60)
    if path.name.startswith("crash"):
        os._exit(3)
    if path.name.startswith("boom"):
        raise ValueError("parser bug")
    return load_document(path, max_bytes)
