"""Building the training data from a real cove.db and a teach folder: sources and their
provenance, de-duplication, the chat template, the split, the statistics, forgetting."""

from __future__ import annotations

import json

import pytest

from cove.daemon.answer.grounding import GENERAL_SYSTEM_PROMPT
from cove.daemon.records import sessions
from cove.daemon.records.feedback import set_feedback, training_examples
from cove.daemon.store import open_db
from cove.finetune.batches import IGNORE, encode
from cove.finetune.dataset import (
    build_dataset,
    read_rows,
    split_heldout,
    write_dataset,
)
from cove.finetune.forget import drop_examples_from, forget_in_dataset, uses_sources
from cove.finetune.teach import teach


@pytest.fixture
def sources(tmp_path):
    """A db with a rated-up, a corrected and a rated-down answer; a teach folder with a
    JSONL pair, a Markdown file repeating it (a duplicate) and another pair."""
    db = open_db(tmp_path / "cove.db")
    ids = {"session": sessions.create_session(db, "Home")}
    sessions.add_message(db, ids["session"], "user", "What colour is my front door?")
    ids["up"] = sessions.add_message(
        db, ids["session"], "assistant", "It is dark green [1].", grounded=True
    )
    sessions.add_message(db, ids["session"], "user", "Who waters my plants?")
    ids["fixed"] = sessions.add_message(db, ids["session"], "assistant", "Nobody.")
    sessions.add_message(db, ids["session"], "user", "What is 2 + 2?")
    ids["down"] = sessions.add_message(db, ids["session"], "assistant", "5")
    set_feedback(db, ids["up"], rating="up")
    set_feedback(db, ids["fixed"], correction="My neighbour Ines waters your plants.")
    set_feedback(db, ids["down"], rating="down")
    folder = tmp_path / "teach"
    teach(folder, "What is my cat called?", "Your cat is called Pixel Quark.")
    teach(folder, "Where is my bike?", "At the Zephyr Lane garage.")
    (folder / "notes.md").write_text(
        "Q: what is my cat called\nA: Your cat is called Pixel Quark!\n"
    )
    return {"db": db, "ids": ids, "folder": folder}


@pytest.fixture
def built(sources, tokenizer):
    return build_dataset(
        tokenizer,
        feedback=training_examples(sources["db"]),
        teach_folder=sources["folder"],
        system=GENERAL_SYSTEM_PROMPT,
        heldout_fraction=0.25,
    )


def rows_of(dataset):
    return {row["question"]: row for row in dataset.train + dataset.heldout}


def test_sources_provenance_and_statistics(built, sources):
    rows, ids = rows_of(built), sources["ids"]
    assert set(rows) == {
        "What colour is my front door?",
        "Who waters my plants?",
        "What is my cat called?",
        "Where is my bike?",
    }  # the rated-down answer is not learned
    door, plants = rows["What colour is my front door?"], rows["Who waters my plants?"]
    assert (door["kind"], door["target"], door["probe"]) == ("feedback", "It is dark green.", False)
    assert plants["kind"] == "correction"
    assert plants["target"] == "My neighbour Ines waters your plants."
    assert plants["probe"]  # a correction is the user stating a fact
    assert plants["provenance"] == [
        {"kind": "feedback", "message_id": ids["fixed"], "session_id": ids["session"]}
    ]
    cat = rows["What is my cat called?"]
    teach_file = str(sources["folder"] / "cove-teach.jsonl")
    digest = cat["id"]  # what the pair teaches: the same for its duplicate
    assert cat["provenance"] == [  # the Markdown duplicate's source is kept with it
        {"kind": "teach", "path": teach_file, "line": 1, "digest": digest},
        {"kind": "teach", "path": str(sources["folder"] / "notes.md"), "line": 1, "digest": digest},
    ]
    stats = built.stats
    assert stats["read"] == {"teach": 3, "correction": 1, "feedback": 1, "synthetic": 0}
    assert stats["by_kind"] == {"teach": 2, "correction": 1, "feedback": 1, "synthetic": 0}
    assert stats["duplicates_dropped"] == 1
    # four different facts: every one is trained on, none held out
    assert (stats["examples"], stats["train"], stats["heldout"]) == (4, 4, 0)
    assert stats["probes"] == 3
    assert stats["tokens"]["train"] == sum(row["tokens"] for row in built.train)
    assert 0 < stats["tokens"]["train_completion"] < stats["tokens"]["train"]
    assert stats["problems"] == [] and stats["too_long_dropped"] == 0
    assert len(built.provenance()) == 5


def test_rows_are_rendered_through_the_chat_template(built, tokenizer):
    row = rows_of(built)["Where is my bike?"]
    assert row["messages"] == [
        {"role": "system", "content": GENERAL_SYSTEM_PROMPT},
        {"role": "user", "content": "Where is my bike?"},
        {"role": "assistant", "content": "At the Zephyr Lane garage."},
    ]
    assert row["prompt"] + row["completion"] == tokenizer.apply_chat_template(
        row["messages"], tokenize=False
    )
    assert row["prompt"].endswith("<|im_start|>assistant\n")
    assert row["completion"] == "At the Zephyr Lane garage.<|im_end|>\n"
    # the loss sees the answer and its end-of-turn token, never the prompt
    encoded = encode(tokenizer, row)
    assert encoded.labels[: row["prompt_tokens"]] == [IGNORE] * row["prompt_tokens"]
    learned = [t for t in encoded.labels if t != IGNORE]
    assert tokenizer.decode(learned) == row["completion"]
    assert len(encoded.input_ids) == row["tokens"]


def test_too_long_examples_are_left_out(sources, tokenizer):
    dataset = build_dataset(tokenizer, teach_folder=sources["folder"], max_tokens=20)
    assert dataset.stats["examples"] == 0 and dataset.stats["too_long_dropped"] == 2


def fake_rows(pairs):
    return [{"id": f"id{i}", "target": t, "question": q} for i, (q, t) in enumerate(pairs)]


def paraphrased(facts: int, ways: int = 2) -> list[dict]:
    """`facts` facts, each asked `ways` ways."""
    return fake_rows([(f"q{i} way {w}", f"a{i}") for i in range(facts) for w in range(ways)])


def test_split_never_holds_out_a_sole_fact():
    # the run: four facts taught once each; one was held out and never learned
    four = fake_rows(
        [("cat?", "Mirelda"), ("street?", "Quillon"), ("bike?", "Tarrow"), ("dentist?", "Vrieke")]
    )
    assert split_heldout(four, fraction=0.5) == (four, [])
    for seed in range(20):
        train, heldout = split_heldout(
            fake_rows([(f"q{i}", f"a{i}") for i in range(50)]), seed=seed
        )
        assert len(train) == 50 and heldout == []


def test_split_holds_out_paraphrases_and_never_the_last_copy_of_a_fact():
    rows = fake_rows(
        [("cat?", "Pixel"), ("my cat's name?", "Pixel"), ("bike?", "Zephyr"), ("tea?", "Lapsang")]
    )
    train, heldout = split_heldout(rows, fraction=0.5)
    assert [r["target"] for r in heldout] == ["Pixel"]  # one paraphrase; the others are alone
    assert {r["target"] for r in train} == {"Pixel", "Zephyr", "Lapsang"}
    for seed in range(20):  # one fact asked three ways: two may be held out, one is trained
        train, heldout = split_heldout(paraphrased(1, ways=3), fraction=0.9, seed=seed)
        assert len(train) == 1 and len(heldout) == 2


def test_split_size_and_order():
    one = fake_rows([("q", "a")])
    assert split_heldout(one) == (one, [])
    many = paraphrased(25)  # 50 rows
    train, heldout = split_heldout(many, fraction=0.1)
    assert len(heldout) == 5 and len(train) == 45
    assert {r["target"] for r in train} == {f"a{i}" for i in range(25)}  # every fact trained
    # deterministic, and independent of the input order
    again = split_heldout(list(reversed(many)), fraction=0.1)[1]
    assert sorted(r["id"] for r in again) == sorted(r["id"] for r in heldout)
    assert split_heldout(many, fraction=0.1, seed=1)[1] != heldout
    assert len(split_heldout(many, fraction=0.5, max_heldout=8)[1]) == 8
    assert split_heldout(many, fraction=0) == (many, [])


def test_questions_name_every_row_with_its_digest(built):
    questions = built.questions()
    assert len(questions) == 4
    assert [q["split"] for q in questions] == ["train"] * 4
    cat = next(q for q in questions if q["question"] == "What is my cat called?")
    assert cat["target"] == "Your cat is called Pixel Quark."
    assert cat["digest"] == rows_of(built)["What is my cat called?"]["id"]
    assert cat["provenance"][0]["digest"] == cat["digest"]


def test_forgetting_by_session_message_and_file(built, sources, tmp_path):
    rows, ids = built.train + built.heldout, sources["ids"]
    kept, removed = drop_examples_from(rows, session_ids=[ids["session"]])
    assert removed == 2 and {r["kind"] for r in kept} == {"teach"}
    kept, removed = drop_examples_from(rows, message_ids=[ids["up"]])
    assert removed == 1 and len(kept) == 3
    # the cat pair came from two files: it stays until both are gone
    teach_file = sources["folder"] / "cove-teach.jsonl"
    kept, removed = drop_examples_from(rows, paths=[teach_file])
    assert removed == 1  # only the bike pair had no other source
    cat = next(r for r in kept if r["question"] == "What is my cat called?")
    assert [p["path"] for p in cat["provenance"]] == [str(sources["folder"] / "notes.md")]
    kept, removed = drop_examples_from(rows, paths=[sources["folder"]])  # the whole folder
    assert removed == 2 and all(r["kind"] != "teach" for r in kept)

    # what a registry asks about an adapter's recorded provenance
    assert uses_sources(built.provenance(), session_ids=[ids["session"]])
    assert uses_sources(built.provenance(), paths=[sources["folder"] / "notes.md"])
    assert not uses_sources(built.provenance(), paths=[sources["folder"] / "other.md"])

    out = tmp_path / "data"
    write_dataset(built, out)
    assert forget_in_dataset(out, message_ids=[ids["fixed"]]) == 1
    left = read_rows(out / "train.jsonl") + read_rows(out / "heldout.jsonl")
    assert "Who waters my plants?" not in {r["question"] for r in left}
    stats = json.loads((out / "stats.json").read_text())
    assert stats["forgotten"] == 1 and stats["examples"] == 3
    assert forget_in_dataset(out, message_ids=["nothing"]) == 0
