"""Q&A files the user writes in the teach folder (by default COVE_HOME/teach/).

Two formats are read, from every file in the folder and its subfolders:

`*.jsonl` — one conversation per line, as in OpenAI's fine-tuning files:

    {"messages": [{"role": "user", "content": "What is my cat called?"},
                  {"role": "assistant", "content": "Your cat is called Pixel Quark."}]}

Every assistant message becomes a training example whose prompt is the conversation
before it. A leading system message is allowed and kept with the example. Blank lines
are skipped; other keys on a line are ignored.

`*.md` — question/answer blocks:

    # Things about me            <- anything before the first "Q:" is ignored

    Q: What is my cat called?
    A: Your cat is called Pixel Quark.

    Q: Where do I keep the spare key?
    A: Under the blue flower pot
    by the back door.

A question starts at a line beginning with `Q:` and runs up to the line beginning with
`A:`; the answer runs up to the next `Q:` line (or the end of the file), so answers may
span several lines and paragraphs. `Q:`/`A:` are case-insensitive. Surrounding blank
lines are trimmed.

`cove teach QUESTION ANSWER` appends a pair to `cove-teach.jsonl` in the folder
(`teach()` here). Problems in a file (bad JSON, a question without an answer) are
reported with the file and line, never raised: one bad line must not stop training.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from cove.finetune.examples import Example

TEACH_FILE = "cove-teach.jsonl"
ROLES = ("system", "user", "assistant")
_Q = re.compile(r"^\s*q\s*:\s?(.*)$", re.IGNORECASE)
_A = re.compile(r"^\s*a\s*:\s?(.*)$", re.IGNORECASE)
# Line breaks to str.splitlines (which the readers here use) that JSON leaves unescaped.
_UNESCAPED_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def teach(folder: Path, question: str, answer: str) -> dict:
    """Append one question/answer pair to `folder/cove-teach.jsonl`.

    Returns `{"path", "line"}`: where the pair was written (its provenance).
    """
    question, answer = question.strip(), answer.strip()
    if not question or not answer:
        raise ValueError("teach needs a non-empty question and answer")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / TEACH_FILE
    record = {
        "messages": [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ],
        "added_at": time.time(),
    }
    prefix, line = "", 1
    if path.is_file():
        text = path.read_text(encoding="utf-8")
        if text and not text.endswith("\n"):
            prefix = "\n"  # a hand-edited file without a final newline
        # Counted as parse_jsonl counts, so the line returned is the one read back.
        line = len((text + prefix).splitlines()) + 1
    encoded = json.dumps(record, ensure_ascii=False)
    for char, escape in _UNESCAPED_BREAKS.items():
        encoded = encoded.replace(char, escape)  # the record stays one line when read back
    with path.open("a", encoding="utf-8") as f:
        start = f.tell()
        try:
            f.write(prefix + encoded + "\n")
            f.flush()
        except OSError:
            f.truncate(start)  # a full disk leaves no half-written line behind
            raise
    return {"path": str(path), "line": line}


def read_teach_folder(folder: Path) -> tuple[list[Example], list[dict]]:
    """Examples from every `.jsonl` and `.md` file under `folder`, and the problems found.

    A missing folder has no examples. Problems are `{"path", "line", "reason"}`.
    """
    examples: list[Example] = []
    problems: list[dict] = []
    if not folder.is_dir():
        return examples, problems
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        if path.suffix.lower() not in (".jsonl", ".md"):
            continue
        found, bad = read_teach_file(path)
        examples += found
        problems += bad
    return examples, problems


def read_teach_file(path: Path) -> tuple[list[Example], list[dict]]:
    """Examples from one `.jsonl` or `.md` teach file, and the problems found in it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [], [{"path": str(path), "line": 0, "reason": f"unreadable: {exc}"}]
    parse = parse_jsonl if path.suffix.lower() == ".jsonl" else parse_markdown
    return parse(text, str(path))


def _teach_example(prompt: list[dict], target: str, path: str, line: int) -> Example:
    system = None
    if prompt and prompt[0]["role"] == "system":
        system, prompt = prompt[0]["content"], prompt[1:]
    example = Example(prompt=prompt, target=target, kind="teach", probe=True, system=system)
    # The digest names the pair itself: a line edited or removed later no longer holds it.
    where = {"kind": "teach", "path": path, "line": line, "digest": example.digest()}
    example.provenance = [where]
    return example


def parse_jsonl(text: str, path: str) -> tuple[list[Example], list[dict]]:
    """Examples from the JSONL format; see the module docstring."""
    examples: list[Example] = []
    problems: list[dict] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            messages = _messages(json.loads(raw))
        except (ValueError, TypeError, KeyError) as exc:
            problems.append({"path": path, "line": number, "reason": str(exc)})
            continue
        found = 0
        for i, message in enumerate(messages):
            if message["role"] != "assistant" or i == 0:
                continue
            prompt = messages[:i]
            if prompt[-1]["role"] != "user":
                continue
            examples.append(_teach_example(prompt, message["content"], path, number))
            found += 1
        if not found:
            problems.append(
                {"path": path, "line": number, "reason": "no user message with an answer"}
            )
    return examples, problems


def _messages(record: object) -> list[dict]:
    if not isinstance(record, dict) or not isinstance(record.get("messages"), list):
        raise ValueError('expected {"messages": [...]}')
    messages = []
    for message in record["messages"]:
        if not isinstance(message, dict):
            raise ValueError("a message is an object with role and content")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        if not isinstance(content, str) or not content.strip():
            raise ValueError(f"a {role} message has no text")
        if role == "system" and messages:
            raise ValueError("a system message may only come first")
        messages.append({"role": role, "content": content.strip()})
    return messages


def parse_markdown(text: str, path: str) -> tuple[list[Example], list[dict]]:
    """Examples from the Markdown Q:/A: format; see the module docstring."""
    examples: list[Example] = []
    problems: list[dict] = []
    question: list[str] | None = None
    answer: list[str] | None = None
    start = 0

    def flush() -> None:
        if question is None:
            return
        q, a = "\n".join(question).strip(), "\n".join(answer or []).strip()
        if not q or not a:
            problems.append(
                {"path": path, "line": start, "reason": "a Q: without a question or an A:"}
            )
            return
        examples.append(_teach_example([{"role": "user", "content": q}], a, path, start))

    for number, line in enumerate(text.splitlines(), start=1):
        if q_match := _Q.match(line):
            flush()
            question, answer, start = [q_match.group(1)], None, number
        elif question is None:
            continue  # a title or notes before the first question
        elif answer is None and (a_match := _A.match(line)):
            answer = [a_match.group(1)]
        elif answer is None:
            question.append(line)
        else:
            answer.append(line)
    flush()
    return examples, problems
