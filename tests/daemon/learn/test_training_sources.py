"""The daemon's view of training data: new examples since the last run, sources that
are gone, and stored datasets scrubbed of them. On a real cove.db and teach folder."""

from __future__ import annotations

import json

from cove.daemon.learn.examples import (
    count_new_examples,
    current_examples,
    read_example_digests,
    removed_sources,
    scrub_stored_datasets,
    write_example_digests,
)
from cove.daemon.records.feedback import set_feedback
from cove.daemon.records.sessions import add_message, create_session
from cove.daemon.store import open_db
from cove.finetune.dataset import HELDOUT_FILE, STATS_FILE, TRAIN_FILE, write_rows
from cove.finetune.teach import TEACH_FILE, teach


def row(question: str, provenance: list[dict]) -> dict:
    return {
        "kind": "teach",
        "tokens": 10,
        "prompt_tokens": 6,
        "probe": True,
        "question": question,
        "provenance": provenance,
    }


def test_new_examples_are_counted_against_the_last_run(tmp_path):
    db = open_db(tmp_path / "cove.db")
    teach(tmp_path / "teach", "Where is the key?", "Under the pot.")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    write_example_digests(run_dir, current_examples(db, tmp_path / "teach"))
    teach(tmp_path / "teach", "Where is the ladder?", "In the shed.")
    teach(tmp_path / "teach", "where is the KEY", "Under the pot!")  # the same example
    examples = current_examples(db, tmp_path / "teach")
    assert count_new_examples(examples, read_example_digests(run_dir)) == 1


def test_gone_sources_are_flagged_and_scrubbed_from_stored_datasets(tmp_path):
    db = open_db(tmp_path / "cove.db")
    session = create_session(db, "Errands")
    add_message(db, session, "user", "When is the dentist?")
    answer = add_message(db, session, "assistant", "Thursday.")
    set_feedback(db, answer, rating="up")
    kept_file, deleted_file = tmp_path / "kept.md", tmp_path / "deleted.md"
    kept_file.write_text("Q: a\nA: b\n")
    feedback = {"kind": "feedback", "message_id": answer, "session_id": session}
    teach_kept = {"kind": "teach", "path": str(kept_file), "line": 1}
    teach_gone = {"kind": "teach", "path": str(deleted_file), "line": 1}
    data = tmp_path / "training" / "r_1" / "data"
    data.mkdir(parents=True)
    write_rows(data / TRAIN_FILE, [row("a", [teach_kept]), row("x", [teach_gone])])
    write_rows(data / HELDOUT_FILE, [row("d", [feedback, teach_gone])])
    (data / STATS_FILE).write_text(json.dumps({"examples": 3}))

    assert removed_sources(db)([feedback, teach_kept, teach_gone]) == [teach_gone]
    assert scrub_stored_datasets(db, tmp_path / "training") == 1
    train = [json.loads(line)["question"] for line in (data / TRAIN_FILE).read_text().splitlines()]
    assert train == ["a"]
    # a merged row stays while one of its sources remains
    assert len((data / HELDOUT_FILE).read_text().splitlines()) == 1
    assert json.loads((data / STATS_FILE).read_text())["forgotten"] == 1

    set_feedback(db, answer, rating="down")  # no longer a training example
    assert removed_sources(db)([feedback]) == [feedback]
    assert scrub_stored_datasets(db, tmp_path / "training") == 1
    assert (data / HELDOUT_FILE).read_text() == ""


def test_forgetting_one_pair_out_of_a_teach_file_flags_what_was_trained_on_it(tmp_path):
    db = open_db(tmp_path / "cove.db")
    folder = tmp_path / "teach"
    teach(folder, "Where is the key?", "Under the pot.")
    teach(folder, "Where is the ladder?", "In the shed.")
    key, ladder = (example.provenance[0] for example in current_examples(db, folder))
    assert removed_sources(db)([key, ladder]) == []

    path = folder / TEACH_FILE
    path.write_text(path.read_text().splitlines(keepends=True)[1])  # the key pair forgotten
    assert removed_sources(db)([key, ladder]) == [key]  # the ladder moved up a line: kept
    # an entry recorded before pairs had digests goes with its file only
    undigested = {name: value for name, value in key.items() if name != "digest"}
    assert removed_sources(db)([undigested]) == []
    path.unlink()
    assert removed_sources(db)([undigested, ladder]) == [undigested, ladder]
