"""Evidence: the sentence of a source that answers a question, where it sits in the file, and
which sentences of an answer the sources support. Scored with the real embedder."""

from __future__ import annotations

import pytest

from cove.daemon.answer.evidence import (
    Quote,
    best_quote,
    calibrated,
    cite,
    evidence_window,
    locate_in_lines,
    quote_lines,
    split_sentences,
    support_claims,
)

BOILER = (
    "The Aquaheat 300 is a wall-mounted combination boiler. "
    "It heats water on demand, so no storage cylinder is needed. "
    "Fault code E47 means the system water pressure is below 0.5 bar. "
    "The boiler should be serviced once a year by a registered engineer. "
    "The front panel is removed with a flat screwdriver."
)
E47 = "Fault code E47 means the system water pressure is below 0.5 bar."


@pytest.fixture(scope="module")
def embed(embedder):
    return embedder.embed


def texts(text: str) -> list[str]:
    return [s.text for s in split_sentences(text)]


def test_sentences_end_at_their_punctuation_and_offsets_point_into_the_text():
    text = 'It works.  Does it?\nYes! She said "fine." Then   left'
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == [
        "It works.",
        "Does it?",
        "Yes!",
        'She said "fine."',
        "Then left",
    ]
    for sentence in sentences:
        assert " ".join(text[sentence.start : sentence.end].split()) == sentence.text
    assert text[sentences[-1].start : sentences[-1].end] == "Then   left"


def test_numbers_with_a_decimal_point_do_not_end_a_sentence():
    assert texts(E47 + " Next.") == [E47, "Next."]


def test_each_line_of_a_list_or_table_is_a_sentence_even_without_punctuation():
    text = "Steps:\n- open the valve\n- check the gauge\n1. top up\n| E47 | low pressure |\nDone."
    assert texts(text) == [
        "Steps:",
        "- open the valve",
        "- check the gauge",
        "1. top up",
        "| E47 | low pressure |",
        "Done.",
    ]


def test_pieces_without_a_word_are_dropped():
    assert texts("Before.\n\n---\n\n* \n\nAfter.") == ["Before.", "After."]


def test_a_very_long_sentence_is_split_at_its_line_breaks():
    code = "\n".join(f"value_{i} = compute(value_{i - 1}, factor={i})" for i in range(1, 20))
    assert len(code) > 400
    assert texts(code) == code.split("\n")


def test_the_best_quote_is_the_sentence_that_states_the_fact(embed):
    quote = best_quote("What does fault code E47 mean?", BOILER, embed, max_sentences=1)
    assert quote is not None
    assert quote.text == E47
    assert BOILER[quote.start : quote.end] == E47
    assert quote.score > 0.5


def test_the_next_sentence_joins_the_quote_while_it_stays_short(embed):
    chunk = (
        "The boiler has a display on the front. "
        "To reset the boiler, hold the reset button for five seconds. "
        "After the reset, the boiler restarts and the reset light turns green. "
        "Spare parts are listed on page 12."
    )
    question = "How do I reset the boiler?"
    # two sentences at most; the full stop keeps the display's sentence out
    quote = best_quote(question, chunk, embed, max_sentences=2)
    assert quote is not None
    assert quote.text == (
        "To reset the boiler, hold the reset button for five seconds. "
        "After the reset, the boiler restarts and the reset light turns green."
    )
    one = best_quote(question, chunk, embed, max_sentences=1)
    assert (
        one is not None
        and one.text == "To reset the boiler, hold the reset button for five seconds."
    )


def test_a_term_named_just_before_its_description_joins_the_quote(embed):
    chunk = (
        "Options\n\n-Fc\n\nOutput a custom-format archive suitable for input into "
        "pg_restore.\n\n-Fd\n\nOutput a directory-format archive."
    )
    quote = best_quote("Which switch makes a custom-format archive?", chunk, embed, 1)
    assert quote is not None
    assert quote.text == "-Fc Output a custom-format archive suitable for input into pg_restore."


def test_a_chunk_without_sentences_has_no_quote(embed):
    assert best_quote("What does E47 mean?", "  \n---\n", embed) is None


def test_quote_lines_count_the_newlines_before_the_quote():
    chunk = "First line.\nSecond line starts\nand ends here.\nLast."
    start = chunk.index("Second")
    end = chunk.index("here.") + len("here.")
    quote = Quote("Second line starts and ends here.", start, end, 1.0)
    assert quote_lines(chunk, 10, quote) == (11, 12)
    first = Quote("First line.", 0, len("First line."), 1.0)
    assert quote_lines(chunk, 10, first) == (10, 10)
    assert quote_lines(chunk, None, quote) == (None, None)


def test_locate_in_lines_finds_a_quote_the_file_wraps_with_other_spacing():
    lines = [
        "# Aquaheat 300",
        "",
        "Fault code E47 means the   system",
        "  water pressure is below 0.5 bar. Refill it",
        "with the filling loop.",
    ]
    assert locate_in_lines(lines, 1, E47) == (3, 4)
    assert locate_in_lines(lines, 41, "Refill it with the filling loop.") == (44, 45)


def test_locate_in_lines_is_none_for_text_not_in_the_lines():
    lines = ["Fault code E47 means the system", "water pressure is below 0.5 bar."]
    assert locate_in_lines(lines, 1, "The boiler is painted purple.") is None
    assert locate_in_lines(lines, 1, "fault code e47") is None  # case-sensitive
    assert locate_in_lines(lines, 1, "   ") is None


def test_the_evidence_window_adds_neighbouring_sentences_in_document_order():
    start = BOILER.index(E47)
    quote = Quote(E47, start, start + len(E47), 1.0)
    sentences = texts(BOILER)
    assert evidence_window(BOILER, quote) == " ".join(sentences[1:4])
    assert evidence_window(BOILER, quote, neighbours=0) == E47
    assert evidence_window(BOILER, quote, neighbours=5) == " ".join(sentences)


def test_the_evidence_window_stops_at_the_ends_of_the_chunk():
    first = texts(BOILER)[0]
    quote = Quote(first, 0, len(first), 1.0)
    assert evidence_window(BOILER, quote) == " ".join(texts(BOILER)[:2])


EVIDENCE = [
    (1, E47),
    (2, "The boiler should be serviced once a year by a registered engineer."),
]


def test_a_claim_copied_from_the_evidence_is_supported_by_its_source(embed):
    answer = f"Sure. {E47[:-1]} [1]. The boiler is painted purple [1, 2]."
    copied, invented = support_claims(answer, EVIDENCE, embed)

    assert copied.text == E47  # the marker is not part of the claim
    assert copied.supported
    assert (copied.n, copied.quote) == (1, E47)

    assert invented.text == "The boiler is painted purple."
    assert not invented.supported
    assert (invented.n, invented.quote) == (None, None)
    assert invented.score < copied.score


def test_without_evidence_every_claim_is_unsupported(embed):
    (claim,) = support_claims("Fault code E47 means low pressure.", [], embed)
    assert not claim.supported and claim.n is None


def test_sentences_that_claim_nothing_are_skipped(embed):
    assert support_claims("Sure. Okay!", EVIDENCE, embed) == []


def test_what_the_question_already_says_supports_nothing(embed):
    question = "What does fault code E47 mean?"
    wrong, right = support_claims(
        "Fault code E47 means the burner flame went out. It means the pressure is below 0.5 bar.",
        EVIDENCE,
        embed,
        question=question,
    )
    # "fault code E47 means" comes from the question: only "burner flame went out" is claimed
    assert not wrong.supported
    assert right.supported and right.n == 1


def test_the_answers_sentences_get_the_markers_their_claims_earned(embed):
    answer = f"{E47} [2] The boiler is painted purple [1]."
    claims = support_claims(answer, EVIDENCE, embed)
    assert cite(answer, claims) == f"{E47[:-1]} [1]. The boiler is painted purple."


def crowded_embed(texts: list[str]) -> list[list[float]]:
    """An embedder whose vectors all share most of one direction, as e5's do: any two
    different texts score 0.9, the same text 1.0."""
    names = {t: i for i, t in enumerate(dict.fromkeys(texts), start=1)}
    size = len(names) + 1
    vectors = []
    for text in texts:
        vector = [0.0] * size
        vector[0], vector[names[text]] = 0.9**0.5, 0.1**0.5
        vectors.append(vector)
    return vectors


def test_calibration_reads_the_embedders_floor_as_nothing():
    assert calibrated(0.7, 0.7) == 0.0 and calibrated(1.0, 0.7) == 1.0
    assert calibrated(0.45, 0.0) == 0.45  # MiniLM's cosines are left as they are


def test_a_crowded_embedder_alone_supports_no_claim_once_calibrated():
    evidence = [(1, "The archive keeps every letter sent between 1890 and 1910.")]
    claim = "The archive keeps every letter sent before 1950."  # most words, another date
    (raw,) = support_claims(claim, evidence, crowded_embed)
    (floored,) = support_claims(claim, evidence, crowded_embed, floor=0.7)
    assert raw.supported and not floored.supported
    assert floored.score < raw.score
