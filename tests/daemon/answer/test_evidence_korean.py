"""Evidence in Korean: a Korean word carries its particles (모델은, 모델을), so quotes and claim
support compare words as keyword search holds them, in overlapping syllable pairs. Scored with
the real embedder, and with one that sees nothing (every sentence equally similar) to show
the words alone find the sentence."""

from __future__ import annotations

import pytest

from cove.daemon.answer.evidence import best_quote, keyword_snippet, split_sentences, support_claims

# Sentences run on without a space, and one ends its line with no full stop, as Korean
# notes and help texts often do.
GUIDE = (
    "코브는 감시 폴더의 문서로 질문에 답합니다.답의 각 문장에는 출처 번호가 붙습니다.\n"
    "기본 채팅 모델은 영어 전용입니다\n"
    "한국어 답변에는 다국어 모델을 설치하세요. 모델을 바꾼 뒤에는 데몬을 다시 시작해야 합니다."
)
INSTALL = "한국어 답변에는 다국어 모델을 설치하세요."
RESTART = "모델을 바꾼 뒤에는 데몬을 다시 시작해야 합니다."


def blind(texts: list[str]) -> list[list[float]]:
    """An embedder that sees nothing: every text the same unit vector."""
    return [[1.0] for _ in texts]


@pytest.fixture(scope="module")
def embed(embedder):
    return embedder.embed


def test_korean_sentences_split_without_spaces_or_a_final_full_stop():
    assert [s.text for s in split_sentences(GUIDE)] == [
        "코브는 감시 폴더의 문서로 질문에 답합니다.",
        "답의 각 문장에는 출처 번호가 붙습니다.",
        "기본 채팅 모델은 영어 전용입니다",
        INSTALL,
        RESTART,
    ]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("한국어로 답하게 하려면 무엇을 설치하나요?", INSTALL),  # 설치하나요 / 설치하세요
        ("모델을 바꾸면 데몬은 어떻게 하나요?", RESTART),  # 데몬은 / 데몬을, 바꾸면 / 바꾼
    ],
    ids=["install", "restart"],
)
def test_the_words_alone_find_the_sentence_whatever_particles_they_carry(question, answer):
    assert best_quote(question, GUIDE, blind, max_sentences=1).text == answer


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("한국어로 답하게 하려면 무엇을 설치하나요?", INSTALL),
        ("모델을 바꾸면 데몬은 어떻게 하나요?", RESTART),
        ("답에 붙는 출처 번호는 무엇인가요?", "답의 각 문장에는 출처 번호가 붙습니다."),
    ],
    ids=["install", "restart", "source numbers"],
)
def test_the_quote_is_the_korean_sentence_that_answers(embed, question, answer):
    assert best_quote(question, GUIDE, embed, max_sentences=1).text == answer


def test_a_short_korean_sentence_before_the_answer_is_not_taken_for_its_term():
    # A short line without a full stop joins the quote as the term it describes ("-Fc"),
    # but one ending as a Korean sentence does (입니다) is a sentence of its own.
    question = "한국어로 답하게 하려면 무엇을 설치하나요?"
    term = best_quote(question, f"--model\n{INSTALL}", blind, max_sentences=1)
    sentence = best_quote(question, f"기본 모델은 영어 전용입니다\n{INSTALL}", blind, 1)
    assert (term.text, sentence.text) == (f"--model {INSTALL}", INSTALL)


def test_a_korean_claim_in_other_particles_is_supported_and_an_invented_one_is_not():
    evidence = [(1, s.text) for s in split_sentences(GUIDE)]
    restated, invented = support_claims(
        "데몬은 다시 시작합니다. 보일러는 매달 청소합니다.", evidence, blind
    )
    assert (restated.supported, restated.n, restated.quote) == (True, 1, RESTART)
    assert not invented.supported


def test_a_korean_search_snippet_is_the_sentence_holding_the_query():
    assert keyword_snippet("데몬 재시작", GUIDE) == RESTART
