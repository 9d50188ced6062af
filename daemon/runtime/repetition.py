"""Answers that loop: a small model at a low temperature can fall into writing the same
phrase, line or source header again and again until the token limit. The loop is found in
the text as it streams, so generation can stop there, and the answer is cut back to the
first copy of what repeats (`finish_reason: "repetition"`)."""

from __future__ import annotations

import re

_WORD = re.compile(r"\S+")
_PUNCTUATION = re.compile(r"[^\w]")
# A run of words repeated this many times back to back is a loop, not emphasis.
COPIES = 3
# Shortest and longest repeating unit, in words: "la la la" is a loop of one word at three
# copies, which ordinary text has too ("very, very, very"), so a unit needs two words at least.
MIN_UNIT = 2
MAX_UNIT = 60


def loop_start(text: str) -> int | None:
    """Where the second copy of a loop at the end of `text` begins, or None.

    A loop is a unit of MIN_UNIT..MAX_UNIT words written COPIES times in a row at the end of
    the text. The text up to the returned offset keeps the first copy.
    """
    spans = [m.span() for m in _WORD.finditer(text)]
    # Compared without case and punctuation: a copy may open with a quote mark or a bullet.
    words = [_PUNCTUATION.sub("", text[a:b].lower()) for a, b in spans]
    for unit in range(MIN_UNIT, min(MAX_UNIT, len(words) // COPIES) + 1):
        tail = words[-unit:]
        copies = 1
        while (copies + 1) * unit <= len(words) and (
            words[len(words) - (copies + 1) * unit : len(words) - copies * unit] == tail
        ):
            copies += 1
        if copies >= COPIES:
            second = len(words) - unit * (copies - 1)  # keep the run's first copy
            return spans[second][0]
    return None


def cut_loop(text: str) -> tuple[str, bool]:
    """`text` cut back to the first copy of a loop at its end, and whether it was cut."""
    start = loop_start(text)
    if start is None:
        return text, False
    return text[:start].rstrip(), True
