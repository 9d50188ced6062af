"""Which language a question is written in, where its script names one: a small model
reading English sources otherwise tends to answer in English."""

from __future__ import annotations

import re
from collections import Counter

from cove.index.keywords import script_words

# Scripts that name their language: kana makes Han Japanese; the Southeast Asian scripts are
# told apart by the last code point of their blocks. Latin, Cyrillic or Arabic letters serve
# many languages: for those the system prompt's "in the language of the question" has to do.
_KANA = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_SOUTHEAST_ASIAN = {"\u0e7f": "Thai", "\u0eff": "Lao", "\u109f": "Burmese", "\u17ff": "Khmer"}


def question_language(question: str) -> str | None:
    """The language `question` is written in when its script names one (Hangul: Korean;
    kana: Japanese; Han without kana: Chinese; Thai, Lao, Burmese, Khmer) and it holds at
    least as many words in that script as in others ("PostgreSQL의 기본값은?" is Korean);
    else None. Numbers do not count."""
    japanese = bool(_KANA.search(question))
    counts = Counter(
        _script_language(word, script, japanese)
        for word, script in script_words(question)
        if script != "number"
    )
    unnamed = counts.pop(None, 0)
    if not counts:
        return None
    language, words = counts.most_common(1)[0]
    return language if words >= unnamed else None


def _script_language(word: str, script: str | None, japanese: bool) -> str | None:
    if script == "southeast_asian":  # by the block of the word's first letter
        return next(name for last, name in _SOUTHEAST_ASIAN.items() if word[0] <= last)
    return {"hangul": "Korean", "han_kana": "Japanese" if japanese else "Chinese"}.get(script)


# Cove's own sentences around an answer, in the language the question's script names
# (English for the rest): a Korean question answered with a quote or declined reads Korean.
_NOT_FOUND = {
    None: "I couldn't find anything about that in your documents, so I won't guess. "
    "Try other words, or ask for an answer from general knowledge.",
    "Korean": "문서에서 이에 관한 내용을 찾지 못해 추측하지 않겠습니다. "
    "다른 말로 물어보시거나 일반 지식으로 답해 달라고 해 주세요.",
}
_SAYS = {None: "{name} says", "Korean": "{name}에 따르면"}


def not_found(language: str | None) -> str:
    """The answer when nothing in the documents is relevant enough."""
    return _NOT_FOUND.get(language, _NOT_FOUND[None])


def says(name: str, language: str | None) -> str:
    """The attribution before a quote from a file: 'notes.md says'."""
    return _SAYS.get(language, _SAYS[None]).format(name=name)
