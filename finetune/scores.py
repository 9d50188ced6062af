"""Text scores for probe answers: ROUGE-L F1 (by LCS), token F1 and answer match."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

# Token F1 a probe answer needs, on the target's words that the question does not
# already contain (and that are not FUNCTION_WORDS), to count as a match: "Your cat is
# called Whiskers" against "My cat is called Pixel Quark" for "What is my cat's name?"
# scores 0; "Pixel Quark, a lovely cat" 0.8.
MATCH_F1 = 0.6
# Words any answer of the same shape repeats: counting them, "Your dog is called Fennick"
# matched "Your dog is called Pumbert" (F1 0.67 on your/called/<name>), so a wrong name
# scored as a learned fact.
_FUNCTION_WORDS = (
    "a an the is are was were be been am i you your yours my mine me he she it its his her "
    "they their them we our us of to in on at for and or with by from as that this called "
    "named name s"
)
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS.split())


def tokens(text: str) -> list[str]:
    """Lower-case word tokens (letters and digits), accents folded by NFKC."""
    return re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold())


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two token lists (O(len a * len b))."""
    if len(a) < len(b):
        a, b = b, a
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, start=1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(candidate: str, reference: str) -> float:
    """ROUGE-L F1 between two texts, on word tokens (0.0 when either is empty)."""
    cand, ref = tokens(candidate), tokens(reference)
    if not cand or not ref:
        return 0.0
    lcs = lcs_length(cand, ref)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(cand), lcs / len(ref)
    return 2 * precision * recall / (precision + recall)


def token_f1(candidate: list[str], reference: list[str]) -> float:
    """Bag-of-tokens F1 (SQuAD style)."""
    common = sum((Counter(candidate) & Counter(reference)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(candidate), common / len(reference)
    return 2 * precision * recall / (precision + recall)


def normalized(text: str) -> str:
    return " ".join(tokens(text))


def answer_match(answer: str, target: str, question: str = "", bar: float = MATCH_F1) -> bool:
    """Whether `answer` states the target: the normalized target appears in it, or the
    token F1 on the target's new words (those not in the question) reaches `bar`.

    Words the question already holds ("my cat") and function words ("your", "is called")
    are left out of the F1 because any answer repeats them; what counts is the
    information only the target has.
    """
    if not answer.strip():
        return False
    if normalized(target) and normalized(target) in normalized(answer):
        return True
    asked = set(tokens(question)) | FUNCTION_WORDS
    reference = [t for t in tokens(target) if t not in asked] or tokens(target)
    candidate = [t for t in tokens(answer) if t not in asked] or tokens(answer)
    return token_f1(candidate, reference) >= bar
