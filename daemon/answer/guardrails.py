"""Topics the assistant declines, matched by embedding similarity, answered with a fixed
message whatever the model would have said.

A profile is a TOML file named by `[chat] guardrails`:

    threshold = 0.6                       # cosine similarity to any example (default: the
                                          # embedder's measured bar, 0.6 for MiniLM)
    message = "I can't help with that."   # the default decline message

    [[topics]]
    name = "diagnosis"
    examples = ["what illness do I have", "do these symptoms mean cancer"]
    message = "I can't diagnose. Please ask a doctor."   # optional, per topic
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cove.daemon.config import MINILM_BARS, ConfigError

DEFAULT_THRESHOLD = MINILM_BARS["guardrails_threshold"]
DEFAULT_MESSAGE = "I can't help with that topic here."

Embed = Callable[[list[str]], Sequence[Sequence[float]]]


@dataclass(frozen=True)
class Topic:
    name: str
    examples: tuple[str, ...]
    message: str


@dataclass(frozen=True)
class Decline:
    """A question matched a declined topic."""

    topic: str
    message: str
    similarity: float


class Guardrails:
    """Declined topics with their example questions embedded once, at load."""

    def __init__(self, topics: Sequence[Topic], threshold: float, embed: Embed) -> None:
        self.topics = list(topics)
        self.threshold = threshold
        self._embed = embed
        examples = [e for topic in self.topics for e in topic.examples]
        self._owner = [i for i, topic in enumerate(self.topics) for _ in topic.examples]
        self._vectors = np.asarray(embed(examples), dtype=np.float32) if examples else None

    def check(self, question: str) -> Decline | None:
        """The declined topic `question` is about, if its similarity reaches the threshold."""
        if self._vectors is None:
            return None
        query = np.asarray(self._embed([question])[0], dtype=np.float32)
        similarities = self._vectors @ query
        best = int(np.argmax(similarities))
        if similarities[best] < self.threshold:
            return None
        topic = self.topics[self._owner[best]]
        return Decline(topic.name, topic.message, float(similarities[best]))


def load_guardrails(
    path: str | Path, embed: Embed, default_threshold: float = DEFAULT_THRESHOLD
) -> Guardrails:
    """Read a profile; a ConfigError names the file and what is wrong with it.
    `default_threshold` applies when the profile sets none (it depends on the embedder)."""
    path = Path(path).expanduser()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"guardrails profile {path}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"guardrails profile {path} is not valid TOML: {exc}") from exc
    default_message = _text(raw.get("message", DEFAULT_MESSAGE), path, "message")
    threshold = raw.get("threshold", default_threshold)
    if not isinstance(threshold, int | float) or not -1 <= threshold <= 1:
        raise ConfigError(f"guardrails profile {path}: threshold must be between -1 and 1")
    topics = []
    for number, entry in enumerate(raw.get("topics", []), start=1):
        where = f"topics #{number}"
        name = _text(entry.get("name", ""), path, f"{where} name")
        examples = entry.get("examples", [])
        if not examples or not all(isinstance(e, str) and e.strip() for e in examples):
            raise ConfigError(f"guardrails profile {path}: {where} needs a list of examples")
        message = _text(entry.get("message", default_message), path, f"{where} message")
        topics.append(Topic(name, tuple(examples), message))
    return Guardrails(topics, float(threshold), embed)


def _text(value: object, path: Path, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"guardrails profile {path}: {what} must be a non-empty string")
    return value
