"""Citations: a `[n]` that names no source never reaches the user, streamed or not."""

from __future__ import annotations

import random

import pytest

from cove.daemon.answer.citations import CitationFilter, clean_citations

ANSWER = "Ada Quill built it [1]. It was finished in 1872 [2, 7]; see also [9]. Tides [x] vary."


def test_unknown_citations_are_dropped_and_known_ones_kept_in_order():
    cleaned, cited = clean_citations(ANSWER, valid={1, 2, 3})
    assert (
        cleaned == "Ada Quill built it [1]. It was finished in 1872 [2]; see also. Tides [x] vary."
    )
    assert cited == [1, 2]


def test_an_answer_without_citations_is_left_alone():
    assert clean_citations("No markers here.", {1}) == ("No markers here.", [])


def test_repeated_citations_are_counted_once_in_order_of_first_use():
    _, cited = clean_citations("a [2] b [1] c [2][1]", {1, 2})
    assert cited == [2, 1]


@pytest.mark.parametrize("seed", range(20))
def test_streaming_in_any_pieces_shows_only_valid_markers(seed):
    rng = random.Random(seed)
    pieces, rest = [], ANSWER
    while rest:
        cut = rng.randint(1, 5)
        pieces.append(rest[:cut])
        rest = rest[cut:]
    citations = CitationFilter({1, 2, 3})
    shown = "".join(citations.feed(p) for p in pieces) + citations.flush()
    assert "[9]" not in shown and "[7]" not in shown and "[2, 7]" not in shown
    assert "[1]" in shown and "[2]" in shown and "[x]" in shown
    assert citations.cited == [1, 2]


def test_a_bracket_that_never_closes_is_shown_as_text():
    citations = CitationFilter({1})
    shown = citations.feed("an array a[3") + citations.feed(" and more") + citations.flush()
    assert shown == "an array a[3 and more"
