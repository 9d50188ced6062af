"""ROUGE-L F1 (by LCS) and the probe answer match."""

from __future__ import annotations

import pytest

from cove.finetune.scores import answer_match, lcs_length, rouge_l, tokens


def test_lcs_length():
    assert lcs_length(list("ABCBDAB"), list("BDCABA")) == 4
    assert lcs_length([], ["a"]) == 0
    assert lcs_length(["a", "b"], ["a", "b"]) == 2


def test_rouge_l_known_values():
    # reference 6 tokens, candidate 7; LCS "the cat ... the mat" = 5 ("the cat on the mat")
    candidate = "the cat was found on the mat"
    reference = "the cat sat on the mat"
    p, r = 5 / 7, 5 / 6
    assert rouge_l(candidate, reference) == pytest.approx(2 * p * r / (p + r))
    assert rouge_l("Pixel Quark!", "pixel quark") == 1.0
    assert rouge_l("", "anything") == 0.0
    assert rouge_l("entirely different", "nothing shared") == 0.0
    # word order matters for LCS: the same words reversed share "the ... the" / "on the"
    assert rouge_l("mat the on sat cat the", reference) == pytest.approx(0.5)


def test_tokens_fold_case_and_punctuation():
    assert tokens("My cat — called Pixel-Quark, 4:15 pm.") == [
        "my",
        "cat",
        "called",
        "pixel",
        "quark",
        "4",
        "15",
        "pm",
    ]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("My cat is called Pixel Quark.", True),
        ("Your cat is called Pixel Quark, a lovely name.", True),  # chatty, still right
        ("pixel quark", True),
        ("My cat is called Whiskers.", False),  # shares only the question's words
        ("I don't know the name of your cat.", False),
        ("", False),
    ],
)
def test_answer_match(answer, expected):
    target = "My cat is called Pixel Quark."
    assert answer_match(answer, target, "What is the name of my cat?") is expected


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Your dog is called Pumbert.", True),
        ("Pumbert!", True),
        ("Your dog is called Fennick.", False),  # the answer's shape, the wrong name
        ("Your dog is named Pumberto.", False),
    ],
)
def test_a_wrong_name_in_the_right_sentence_is_no_match(answer, expected):
    assert answer_match(answer, "Your dog is called Pumbert.", "What is my dog's name?") is expected
