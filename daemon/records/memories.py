"""Memories: what the user taught Cove, searchable with every grounded question.

The teach folder stays the store: `cove teach` appends to its `cove-teach.jsonl`, and the
user's own `.jsonl`/`.md` Q:/A: files there count too (`cove.finetune.teach` reads them).
Each question/answer pair is a memory, and so is each answer corrected in chat (the
question and the correction, from cove.db's feedback). Both are read again whenever they
change (a file's size or mtime, the set of files, the corrections), so an edit by hand
takes effect on the next question. Forgetting rewrites the file the memory came from, or
drops the correction (a rating stays).

Memories are searched like documents: by meaning (the embedder's cosine between the
question and the memory's question, or its question and answer together, whichever is
closer) and by words (the share of the question's content words the memory holds).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import sqlite_utils

from cove.daemon.answer.evidence import Embed, cosine, word_overlap
from cove.daemon.records.feedback import clear_correction, training_examples
from cove.finetune.dataset import Example, from_feedback
from cove.finetune.teach import read_teach_folder, teach
from cove.index.keywords import query_terms

MEMORY_ID = re.compile(r"^mem_[0-9a-f]{16}$")
_Q_LINE = re.compile(r"^\s*q\s*:", re.IGNORECASE)


class MemoryNotFoundError(LookupError):
    """No memory has that id (it was forgotten, or the file changed)."""


@dataclass(frozen=True)
class Memory:
    """One taught pair. `line` is where it starts in `path`; `taught_at` (epoch seconds) is
    when `cove teach` wrote it, or the file's modification time for hand-written files."""

    id: str
    question: str
    answer: str
    path: str
    line: int
    taught_at: float
    # "teach" (a file in the teach folder) or "correction" (an answer corrected in chat:
    # `message_id` is the corrected answer's; `path` is empty, `line` 0).
    kind: str = "teach"
    message_id: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MemoryHit:
    """A memory found for a query: its dense similarity and keyword overlap (0-1)."""

    memory: Memory
    dense: float
    keyword: float


def memory_id(example: Example) -> str:
    """A stable id for what a memory says: its example's digest (the one training
    provenance records), so adapters trained on a memory can be found by it."""
    return "mem_" + example.digest()


class Memories:
    """The teach folder as a list of memories, re-read when it changes.

    `embed` is the embedder's `embed_query` (unit vectors: memories are questions, searched
    by questions); without it, search is by words only.
    Vectors are kept per text, so an unchanged memory is embedded once per daemon.
    """

    def __init__(
        self, folder: Path, embed: Embed | None = None, db: sqlite_utils.Database | None = None
    ) -> None:
        self.folder = folder
        self.embed = embed
        self.db = db  # corrections are read from its feedback; None: teach folder only
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._memories: list[Memory] = []
        self._vectors: dict[str, list[float]] = {}

    def all(self) -> list[Memory]:
        """Every memory, in file order."""
        with self._lock:
            stamp = self._folder_stamp()
            if stamp != self._stamp:
                self._memories, self._stamp = self._read(), stamp
            return list(self._memories)

    def get(self, memory_id: str) -> Memory:
        for memory in self.all():
            if memory.id == memory_id:
                return memory
        raise MemoryNotFoundError(f"no memory {memory_id!r}: see `cove memory list`")

    def add(self, question: str, answer: str) -> Memory:
        """Write a new memory to the teach file (ValueError when either part is empty).

        A pair already remembered (the same words up to case and punctuation: the same id)
        is that memory, returned as it is: a second copy would be read as the first one, and
        forgetting would remove only one of them."""
        pair = Example([{"role": "user", "content": question.strip()}], answer.strip(), "teach")
        for memory in self.all():
            if memory.id == memory_id(pair):
                return memory
        written = teach(self.folder, question, answer)
        for memory in self.all():
            if memory.path == written["path"] and memory.line == written["line"]:
                return memory
        raise RuntimeError(f"{written['path']} line {written['line']} was written but not read")

    def forget(self, memory_id: str) -> Memory:
        """Remove a memory from its file (the whole JSONL line, or the Markdown Q:/A:
        block) and return it. The file is replaced atomically, keeping its mode."""
        with self._lock:
            self._stamp = None  # read again below, whatever happens
        memory = self.get(memory_id)
        if memory.kind == "correction":
            assert self.db is not None and memory.message_id is not None
            clear_correction(self.db, memory.message_id)
            return memory
        path = Path(memory.path)
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        first = memory.line - 1
        last = first + 1
        if path.suffix.lower() == ".md":
            while last < len(lines) and not _Q_LINE.match(lines[last]):
                last += 1
        _replace_text(path, "".join(lines[:first] + lines[last:]))
        with self._lock:
            self._stamp = None
        return memory

    def search(self, query: str, limit: int = 5) -> list[MemoryHit]:
        """The memories closest to `query`, best first (dense, then keyword)."""
        memories = self.all()
        if not memories or not query.strip():
            return []
        wanted = query_terms(query)  # Korean runs as syllable pairs, as keyword search
        dense = self._dense(query, memories)
        hits = [
            MemoryHit(m, d, word_overlap(wanted, f"{m.question} {m.answer}"))
            for m, d in zip(memories, dense, strict=True)
        ]
        hits.sort(key=lambda h: (h.dense, h.keyword), reverse=True)
        return hits[:limit]

    # --- inside ---------------------------------------------------------------------------

    def _dense(self, query: str, memories: list[Memory]) -> list[float]:
        if self.embed is None:
            return [0.0] * len(memories)
        texts = [t for m in memories for t in (m.question, f"{m.question}\n{m.answer}")]
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            self._vectors.update(zip(missing, self.embed(missing), strict=True))
        (query_vector,) = self.embed([query])
        return [
            max(
                cosine(query_vector, self._vectors[m.question]),
                cosine(query_vector, self._vectors[f"{m.question}\n{m.answer}"]),
            )
            for m in memories
        ]

    def _folder_stamp(self) -> tuple:
        stamp: list[tuple] = []
        if self.db is not None:
            sql = "SELECT count(*) AS n, max(updated_at) AS at FROM feedback"
            stamp.append(tuple(next(iter(self.db.query(sql))).values()))
        if not self.folder.is_dir():
            return tuple(stamp)
        for path in sorted(self.folder.rglob("*")):
            try:
                info = path.stat()
            except OSError:
                continue
            stamp.append((str(path), info.st_size, info.st_mtime_ns))
        return tuple(stamp)

    def _read(self) -> list[Memory]:
        examples, _problems = read_teach_folder(self.folder)
        found = [
            Memory(
                id=memory_id(example),
                question=example.question,
                answer=example.target,
                path=example.provenance[0]["path"],
                line=example.provenance[0]["line"],
                taught_at=_taught_at(
                    Path(example.provenance[0]["path"]), example.provenance[0]["line"]
                ),
            )
            for example in examples
        ]
        if self.db is not None:
            found += _corrections(self.db)
        memories, seen = [], set()
        for memory in found:
            if memory.id not in seen:  # the same pair given twice is one memory
                seen.add(memory.id)
                memories.append(memory)
        return memories


def _corrections(db: sqlite_utils.Database) -> list[Memory]:
    """Answers corrected in chat, as memories."""
    memories = []
    for row in training_examples(db):
        examples = from_feedback([row]) if row["correction"] is not None else []
        memories += [
            Memory(
                id=memory_id(example),
                question=example.question,
                answer=example.target,
                path="",
                line=0,
                taught_at=row["updated_at"],
                kind="correction",
                message_id=row["message_id"],
            )
            for example in examples
        ]
    return memories


def _taught_at(path: Path, line: int) -> float:
    """When a pair was taught: the `added_at` of its JSONL record, else the file's mtime."""
    if path.suffix.lower() == ".jsonl":
        try:
            with path.open(encoding="utf-8") as handle:
                for number, raw in enumerate(handle, start=1):
                    if number == line:
                        added = json.loads(raw).get("added_at")
                        if isinstance(added, int | float):
                            return float(added)
                        break
        except (OSError, ValueError, AttributeError):
            pass
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _replace_text(path: Path, text: str) -> None:
    mode = path.stat().st_mode & 0o777
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
