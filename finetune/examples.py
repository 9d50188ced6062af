"""One thing to learn (`Example`) and the text normalization that says when two are the same.

Its own module so that what makes examples (`dataset`, `teach`, `synthetic`) and what
reads them share it without importing one another.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field


@dataclass
class Example:
    """One thing to learn: the conversation before the answer, and the answer.

    `prompt` holds the user (and earlier) messages, without a system message; `system`
    overrides the dataset's system prompt for this example (teach files, RAFT prompts).
    `probe` marks the user's own facts, asked again by the eval gate.
    """

    prompt: list[dict]
    target: str
    kind: str
    provenance: list[dict] = field(default_factory=list)
    probe: bool = False
    system: str | None = None

    @property
    def question(self) -> str:
        return self.prompt[-1]["content"]

    def key(self) -> tuple[str, str]:
        """What makes two examples the same: normalized prompt texts and target."""
        prompt = "\n".join(normalize(m["content"]) for m in self.prompt)
        return prompt, normalize(self.target)

    def digest(self) -> str:
        """A stable name for what the example teaches (a hash of `key()`, 16 hex digits)."""
        return hashlib.sha256(json.dumps(self.key()).encode()).hexdigest()[:16]


def normalize(text: str) -> str:
    """Lower case, punctuation removed, whitespace collapsed (for de-duplication)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(c if c.isalnum() or c.isspace() else " " for c in text)
    return re.sub(r"\s+", " ", text).strip()
