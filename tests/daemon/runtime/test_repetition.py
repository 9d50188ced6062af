"""Loops in generated text are found at the end of the text and cut back to one copy."""

from __future__ import annotations

import pytest

from cove.daemon.runtime.repetition import COPIES, cut_loop, loop_start


def test_a_phrase_written_three_times_is_cut_to_one_copy():
    assert cut_loop("Ada Quill built it. " * COPIES) == ("Ada Quill built it.", True)


def test_a_longer_run_is_cut_back_to_its_first_copy():
    text = "The answer: " + "see notes/4.4.txt | lines 3-5 " * 7
    assert cut_loop(text) == ("The answer: see notes/4.4.txt | lines 3-5", True)


def test_copies_may_differ_in_case_and_punctuation():
    assert cut_loop('"Ada built it. ada built it, Ada built it!')[0] == '"Ada built it.'


@pytest.mark.parametrize(
    "text",
    [
        "very very very good",  # one word repeated is emphasis, not a loop
        "Oil the chain. Pump the tyres. Oil the chain.",  # a repeat, not three in a row
        "Ada Quill built it. Ada Quill built it.",  # two copies
        "",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert loop_start(text) is None
    assert cut_loop(text) == (text, False)
