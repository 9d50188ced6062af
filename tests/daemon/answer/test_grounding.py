"""Grounded prompts: which hits become sources, and fitting them with the conversation into
the model's context, counted with the model's own tokenizer."""

from __future__ import annotations

import pytest

from cove.daemon.answer.grounding import (
    GROUNDED_SYSTEM_PROMPT,
    NOT_FOUND_ANSWER,
    Source,
    best_of,
    fit_general,
    fit_grounded,
    grounded_question,
    quote_answer,
    relevant_sources,
    retrieval_queries,
)
from cove.daemon.answer.language import not_found, question_language
from cove.daemon.runtime import ContextOverflowError
from cove.index.search import SearchHit


def hit(
    dense: float | None, text: str = "text", path: str = "/docs/a.md", bm25: float | None = None
) -> SearchHit:
    return SearchHit(1, path, ["Heading"], None, 1, 3, text, {"dense": dense, "bm25": bm25})


def source(n: int, words: int) -> Source:
    return Source(n, f"/docs/{n}.md", ["H"], None, 1, 9, "lighthouse " * words, 0.9)


def test_sources_are_hits_whose_dense_score_reaches_the_bar_numbered_from_one():
    sources = relevant_sources([hit(0.7), hit(0.2), hit(0.5)], min_score=0.4, limit=5)
    assert [(s.n, s.score) for s in sources] == [(1, 0.7), (2, 0.5)]


def test_with_nothing_relevant_enough_there_are_no_sources():
    assert relevant_sources([hit(0.1), hit(0.39)], min_score=0.4, limit=5) == []


def test_a_hit_found_by_bm25_alone_does_not_pass_the_dense_bar():
    assert [s.score for s in relevant_sources([hit(0.6), hit(None)], 0.4, 5)] == [0.6]


def test_with_dense_search_off_the_bar_cannot_apply():
    assert len(relevant_sources([hit(None), hit(None)], 0.4, 5)) == 2


def test_at_most_limit_sources():
    assert len(relevant_sources([hit(0.9)] * 10, 0.4, limit=3)) == 3


def test_a_top_hit_just_under_the_bar_is_kept_alone_when_keyword_search_agrees():
    hits = [hit(0.42, "top", bm25=9.0), hit(0.41, "second", bm25=3.0), hit(0.2, bm25=None)]
    kept = relevant_sources(hits, min_score=0.45, limit=5, near_miss=0.05)
    assert [(s.n, s.text) for s in kept] == [(1, "top")]


def test_a_near_miss_is_dropped_when_keyword_search_ranks_another_hit_first():
    hits = [hit(0.42, "top", bm25=3.0), hit(0.41, "second", bm25=9.0)]
    assert relevant_sources(hits, min_score=0.45, limit=5, near_miss=0.05) == []


def test_a_near_miss_must_be_within_the_margin_and_the_rule_can_be_off():
    hits = [hit(0.39, "top", bm25=9.0)]
    assert relevant_sources(hits, min_score=0.45, limit=5, near_miss=0.05) == []
    assert relevant_sources([hit(0.44, bm25=9.0)], min_score=0.45, limit=5) == []


def test_the_near_miss_rule_applies_only_when_nothing_reaches_the_bar():
    hits = [hit(0.5, "above", bm25=1.0), hit(0.44, "near", bm25=9.0)]
    kept = relevant_sources(hits, min_score=0.45, limit=5, near_miss=0.05)
    assert [s.text for s in kept] == ["above"]


def test_a_follow_up_is_searched_alone_and_after_the_question_before_it():
    turns = [
        {"role": "user", "content": "Who built the Skerry lighthouse?"},
        {"role": "assistant", "content": "Ada Quill."},
    ]
    assert retrieval_queries("and when was that?", turns) == [
        "and when was that?",
        "Who built the Skerry lighthouse?\nand when was that?",
    ]
    assert retrieval_queries("Who built it?", []) == ["Who built it?"]


def test_the_search_whose_best_hit_is_most_similar_wins():
    alone, with_context = [hit(0.2), hit(0.1)], [hit(0.6), hit(0.3)]
    assert best_of([alone, with_context]) == with_context
    assert best_of([with_context, [hit(0.6)]]) == with_context
    assert best_of([[hit(None)], [hit(0.1)]]) == [hit(0.1)]
    assert best_of([]) == []


@pytest.fixture(scope="module")
def count(llama_backend):
    return llama_backend.count_prompt_tokens


def test_everything_fits_when_there_is_room(count):
    turns = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    messages, kept = fit_grounded(
        count, 2048, GROUNDED_SYSTEM_PROMPT, turns, "Who?", [source(1, 20), source(2, 20)], 256
    )
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert [s.n for s in kept] == [1, 2]
    assert "[1] /docs/1.md" in messages[-1]["content"]
    assert messages[-1]["content"].endswith("Question: Who?")


def test_huge_sources_are_trimmed_lowest_ranked_first(count):
    sources = [source(n, 300) for n in range(1, 9)]
    messages, kept = fit_grounded(count, 2048, GROUNDED_SYSTEM_PROMPT, [], "Who?", sources, 512)
    assert 0 < len(kept) < len(sources)
    assert [s.n for s in kept] == list(range(1, len(kept) + 1))
    assert count(messages) <= 2048 - 512


def test_a_huge_history_keeps_only_the_recent_turns_that_fit(count):
    turns = []
    for i in range(400):
        turns += [
            {"role": "user", "content": f"question {i} " + "about tides " * 20},
            {"role": "assistant", "content": f"answer {i} " + "the tide turns " * 20},
        ]
    messages, kept = fit_grounded(
        count, 2048, GROUNDED_SYSTEM_PROMPT, turns, "Who?", [source(1, 50)], 512
    )
    assert kept and count(messages) <= 2048 - 512
    assert messages[1]["role"] == "user" and "question" in messages[1]["content"]
    assert messages[-2]["content"].startswith("answer 399")
    general = fit_general(count, 2048, "Be brief.", turns, "Who?", 512)
    assert count(general) <= 2048 - 512 and general[-1]["content"] == "Who?"


def test_a_question_too_long_for_the_model_is_an_error_not_a_silent_cut(count):
    with pytest.raises(ContextOverflowError):
        fit_grounded(count, 2048, "Be brief.", [], "why " * 3000, [source(1, 10)], 256)


# --- the language of the answer -----------------------------------------------------------


def test_the_system_prompt_asks_for_an_answer_in_the_language_of_the_question():
    assert "Answer in the language of the question" in GROUNDED_SYSTEM_PROMPT


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("PostgreSQL의 기본 checkpoint_timeout 값은 얼마인가요?", "Korean"),
        ("東京タワーの高さは？", "Japanese"),
        ("如何安装数据库？", "Chinese"),
        ("ราคาเท่าไหร่", "Thai"),
        ("Who built the lighthouse?", None),  # Latin letters name no one language
        ("Как дела?", None),
        ("What does 설정 mean?", None),  # an English question naming a Korean word
        ("3.5?", None),
    ],
    ids=["korean", "japanese", "chinese", "thai", "english", "russian", "english+korean", "number"],
)
def test_the_language_of_a_question_is_named_by_its_script(question, language):
    assert question_language(question) == language


def characters(messages: list[dict]) -> int:
    """A token counter for prompts that fit easily: one token per character."""
    return sum(len(m["content"]) for m in messages)


def test_a_korean_question_asks_the_model_for_a_korean_answer():
    """What the model is given, not what it answers: the last user message ends by naming
    the language, after the question."""
    korean = "체크포인트 간격은 얼마인가요?"
    sources = [source(1, 20)]
    messages, _ = fit_grounded(characters, 4096, GROUNDED_SYSTEM_PROMPT, [], korean, sources, 256)
    assert messages[-1]["content"].endswith(f"Question: {korean}\nAnswer in Korean.")
    assert grounded_question("Who?", sources).endswith("Question: Who?")


def test_cove_frames_a_quote_and_a_refusal_in_the_language_of_a_korean_question():
    said = "기본 모델은 영어 전용입니다."
    quote = {"text": said, "line_start": 3, "line_end": 3}
    source = Source(1, "/docs/안내.md", ["H"], None, 3, 3, said, 0.9, quote=quote)
    asked_in = question_language("기본 모델은 무엇인가요?")
    assert quote_answer(source, asked_in) == '안내.md에 따르면: "기본 모델은 영어 전용입니다." [1]'
    assert quote_answer(source) == '안내.md says: "기본 모델은 영어 전용입니다." [1]'
    assert not_found(asked_in) != NOT_FOUND_ANSWER and "찾지 못해" in not_found(asked_in)
    assert not_found(question_language("What is the default model?")) == NOT_FOUND_ANSWER
    assert not_found("Japanese") == NOT_FOUND_ANSWER  # English where Cove has no words yet
