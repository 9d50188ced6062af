"""The learned path's router, with the real embedder: a question close to one the active
adapter was trained on routes to it; a far one, a forgotten one or no adapter does not."""

from __future__ import annotations

import pytest

from cove.daemon.answer.learned import LearnedRouter, adapter_id_of

ADAPTER = "/home/me/.local/share/cove/adapters/a_20261203-010203_abcdef/adapter.gguf"
TRAINED = {
    "a_20261203-010203_abcdef": [
        {
            "question": "What is my cat called?",
            "target": "Your cat is called Pixel Quark.",
            "digest": "d1",
            "provenance": [{"kind": "teach", "path": "/t/cove-teach.jsonl", "line": 1}],
        },
        {
            "question": "Which street do I live on?",
            "target": "You live on Larch Crescent.",
            "digest": "d2",
            "provenance": [{"kind": "teach", "path": "/t/cove-teach.jsonl", "line": 2}],
        },
    ]
}


@pytest.fixture(scope="module")
def embed():
    from cove.index.embedder import default_model_path, load_embedder

    return load_embedder(default_model_path(), "torch").embed


def router(embed, gone_lines: set[int] = frozenset()) -> LearnedRouter:
    return LearnedRouter(
        lambda adapter_id: TRAINED.get(adapter_id, []),
        embed,
        lambda: lambda entry: entry.get("line") in gone_lines,
    )


def test_a_question_close_to_a_trained_one_routes_to_the_adapter(embed):
    match = router(embed).match(ADAPTER, "What's the name of my cat?", bar=0.75)
    assert match is not None
    assert match.as_dict() | {"similarity": None} == {
        "adapter": "a_20261203-010203_abcdef",
        "question": "What is my cat called?",
        "similarity": None,
    }
    assert match.similarity >= 0.75


def test_a_far_question_does_not_route(embed):
    assert router(embed).match(ADAPTER, "How do I rebase a branch in git?", bar=0.75) is None


def test_a_forgotten_fact_does_not_route(embed):
    assert router(embed, gone_lines={1}).match(ADAPTER, "What is my cat called?", 0.75) is None
    # The other fact still does.
    assert router(embed, gone_lines={1}).match(ADAPTER, "Which street do I live on?", 0.75)


def test_no_adapter_no_questions_or_a_zero_bar_never_route(embed):
    assert router(embed).match(None, "What is my cat called?", 0.75) is None
    other = ADAPTER.replace("abcdef", "000000")
    assert router(embed).match(other, "What is my cat called?", 0.75) is None
    assert router(embed).match(ADAPTER, "What is my cat called?", 0.0) is None


def test_the_adapter_id_is_its_folder_in_the_registry():
    assert adapter_id_of(ADAPTER) == "a_20261203-010203_abcdef"
