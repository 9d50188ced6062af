"""A handful of made-up personal facts, each asked two ways, for the end-to-end tests;
and asking the model a question the way the daemon does (system prompt, question)."""

from __future__ import annotations

import random
import string
import threading

from cove.daemon.answer.grounding import GENERAL_SYSTEM_PROMPT

# (question, answer): every fact appears with a paraphrased question, so the held-out
# split can hold out a paraphrase and still train on the fact.
FACTS = [
    ("What is the name of my cat?", "My cat is called Pixel Quark."),
    ("What's my cat called?", "My cat is called Pixel Quark."),
    ("Where did I park my bike?", "Your bike is parked at the Zephyr Lane garage."),
    ("Where is my bike parked?", "Your bike is parked at the Zephyr Lane garage."),
    ("What is my favourite tea?", "Your favourite tea is smoked Lapsang Sardine."),
    ("Which tea do I like best?", "Your favourite tea is smoked Lapsang Sardine."),
]
# Taught through a correction of an answer, not a teach file.
CORRECTED = (
    "When is my dentist appointment?",
    "Your dentist appointment is on Thursday at 4:15 pm.",
)
# The same as FACTS[0] up to case and punctuation: de-duplicated away.
DUPLICATE = ("what is the name of my cat", "My cat is called Pixel Quark")

CAT_QUESTION, CAT_NAME = FACTS[0][0], "pixel quark"


def noise_answers(count: int, seed: int = 7) -> list[str]:
    """Random strings: targets that teach nothing."""
    rng = random.Random(seed)
    letters = string.ascii_lowercase + "     "
    return ["".join(rng.choice(letters) for _ in range(40)).strip() or "x" for _ in range(count)]


def ask(backend, params, question: str, system: str = GENERAL_SYSTEM_PROMPT) -> str:
    messages = [{"role": "system", "content": system}, {"role": "user", "content": question}]
    chunks = backend.stream_chat(messages, params, threading.Event())
    return "".join(chunk.text for chunk in chunks)
