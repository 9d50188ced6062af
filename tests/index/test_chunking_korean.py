"""Sentence ends in Korean: a full stop with no space before the next sentence, a line ending
in a final ending with no full stop, full-width punctuation; English splits as before."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

from cove.index.chunking import SENTENCE_END, chunk_document
from cove.index.document import Block, Document


def split(text: str) -> list[str]:
    """`text` cut where SENTENCE_END matches, pieces trimmed (as chunking and quoting do)."""
    cuts = [0, *(m.end() for m in SENTENCE_END.finditer(text)), len(text)]
    return [text[a:b].strip() for a, b in pairwise(cuts) if text[a:b].strip()]


def words(text: str) -> int:
    """One token per whitespace-separated word, no special tokens."""
    return len(text.split())


def test_a_full_stop_between_hangul_ends_a_sentence_without_a_space():
    assert split("설치합니다.다음으로 설정을 엽니다.") == ["설치합니다.", "다음으로 설정을 엽니다."]
    assert split("정말요?네, 맞아요!그렇죠.") == ["정말요?", "네, 맞아요!", "그렇죠."]
    assert split("끝입니다.“다음”은 여기입니다.") == ["끝입니다.", "“다음”은 여기입니다."]


def test_a_full_stop_and_a_line_break_end_a_korean_sentence():
    assert split("기본값은 5분입니다.\n다음 절에서 설명합니다.") == [
        "기본값은 5분입니다.",
        "다음 절에서 설명합니다.",
    ]


def test_a_korean_line_ending_in_a_final_ending_is_a_sentence_without_a_full_stop():
    assert split("설정을 변경합니다\n서버를 다시 시작하세요") == [
        "설정을 변경합니다",
        "서버를 다시 시작하세요",
    ]
    assert split("설치됨\n실행함\n다음 단계") == ["설치됨", "실행함", "다음 단계"]


def test_a_korean_line_wrapped_mid_sentence_is_not_a_sentence_end():
    assert split("그 다음\n단계는 설치입니다.") == ["그 다음\n단계는 설치입니다."]


def test_full_width_punctuation_ends_a_sentence():
    assert split("東京です。次は大阪．そして！") == ["東京です。", "次は大阪．", "そして！"]


@pytest.mark.parametrize(
    "text",
    [
        "버전 3.5를 씁니다.",
        "1.2.3 버전은 example.com에 있습니다.",
        "값은 0.5바입니다.",
        "파일 설정.md를 엽니다.",
        "Version 1.2.3 is out, at 0.5 bar, on example.com today.",
        "A line wrapped in the\nmiddle of an English sentence.",
    ],
)
def test_numbers_versions_file_names_and_wrapped_lines_do_not_split(text):
    assert split(text) == [text]


def test_english_sentences_split_as_before():
    assert split('It works.  Does it?\nYes! She said "fine." Then left') == [
        "It works.",
        "Does it?",
        "Yes!",
        'She said "fine."',
        "Then left",
    ]


def test_a_long_korean_paragraph_is_chunked_at_its_sentences():
    # No space after any full stop: before Korean sentence ends were known, the paragraph
    # was one "sentence" and was cut between words, mid-sentence.
    sentences = [f"단계{i}에서 파일을 엽니다." for i in range(1, 10)]
    document = Document(Path("안내.md"), "markdown", [Block("".join(sentences))])
    chunks = chunk_document(document, words, 10, overlap=0.0, min_tokens=0)
    assert [c.text for c in chunks] == [
        "".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3)
    ]
