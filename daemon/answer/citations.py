"""Citations in answers: `[n]` markers checked against the sources the model was given.

A marker that names no source is removed before anyone sees it, also while the answer
streams: text from a `[` on is held back until the marker is complete and checked.
"""

from __future__ import annotations

import re

CITATION = re.compile(r"\[(\s*\d+(?:\s*[,;]\s*\d+)*\s*)\]")
# A held-back `[` that has not become a marker within this many characters is plain text.
LONGEST_MARKER = 24
MARKER_BODY = re.compile(r"\[[\d\s,;]*")


def _rewrite(marker: re.Match[str], valid: set[int], cited: list[int]) -> str:
    numbers = [int(n) for n in re.findall(r"\d+", marker.group(1))]
    kept = [n for n in numbers if n in valid]
    for n in kept:
        if n not in cited:
            cited.append(n)
    return "".join(f"[{n}]" for n in kept)


def clean_citations(text: str, valid: set[int]) -> tuple[str, list[int]]:
    """`text` with unknown citations dropped (`[1, 9]` -> `[1]`), and the sources cited,
    in order of first citation."""
    cited: list[int] = []
    cleaned = CITATION.sub(lambda m: _rewrite(m, valid, cited), text)
    # Dropping a marker can leave a space before punctuation: "as shown [9]." -> "as shown ."
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned) if cleaned != text else cleaned
    return cleaned, cited


class CitationFilter:
    """Streaming form of `clean_citations`: feed tokens, get the text that is safe to show."""

    def __init__(self, valid: set[int]) -> None:
        self.valid = valid
        self.cited: list[int] = []
        self._held = ""

    def feed(self, text: str) -> str:
        """The part of everything fed so far that can be shown now."""
        self._held += text
        out = []
        while self._held:
            start = self._held.find("[")
            if start < 0:
                out.append(self._held)
                self._held = ""
                break
            out.append(self._held[:start])
            self._held = self._held[start:]
            end = self._held.find("]")
            if end < 0:
                if MARKER_BODY.fullmatch(self._held) and len(self._held) < LONGEST_MARKER:
                    break  # may still become a marker: wait for more text
                out.append(self._held[0])
                self._held = self._held[1:]
                continue
            candidate = self._held[: end + 1]
            self._held = self._held[end + 1 :]
            marker = CITATION.fullmatch(candidate)
            out.append(_rewrite(marker, self.valid, self.cited) if marker else candidate)
        return "".join(out)

    def flush(self) -> str:
        """Whatever is still held back once the answer has ended."""
        held, self._held = self._held, ""
        return held
