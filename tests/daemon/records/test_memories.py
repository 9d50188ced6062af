"""Memories: the teach folder read as question/answer pairs, searched by meaning and by
words with the real embedder, forgotten by rewriting the file they came from."""

from __future__ import annotations

import json
import os

import pytest

from cove.daemon.records.memories import MEMORY_ID, Memories, MemoryNotFoundError
from cove.finetune.teach import TEACH_FILE, teach

MARKDOWN = """# About me

Q: Where do I keep the spare key?
A: Under the blue flower pot
by the back door.

Q: What is my dentist called?
A: Dr. Ilse Moravec.
"""


@pytest.fixture(scope="module")
def embed():
    from cove.index.embedder import default_model_path, load_embedder

    return load_embedder(default_model_path(), "torch").embed


def test_every_pair_in_the_teach_folder_is_a_memory_with_its_origin(tmp_path):
    teach(tmp_path, "What is my cat called?", "Your cat is called Pixel Quark.")
    (tmp_path / "me.md").write_text(MARKDOWN, encoding="utf-8")
    memories = Memories(tmp_path).all()
    assert [(m.question, m.line) for m in memories] == [
        ("What is my cat called?", 1),
        ("Where do I keep the spare key?", 3),
        ("What is my dentist called?", 7),
    ]
    assert all(MEMORY_ID.match(m.id) for m in memories)
    assert memories[0].path == str(tmp_path / TEACH_FILE)
    # cove teach records when; a hand-written file is dated by its modification time.
    record = json.loads((tmp_path / TEACH_FILE).read_text().splitlines()[0])
    assert memories[0].taught_at == record["added_at"]
    assert memories[1].taught_at == os.stat(tmp_path / "me.md").st_mtime


def test_a_memory_keeps_its_id_while_other_memories_come_and_go(tmp_path):
    store = Memories(tmp_path)
    first = store.add("What is my street?", "You live on Larch Crescent.")
    store.add("What is my bicycle called?", "Your bicycle is called Brisket.")
    assert store.get(first.id) == first


def test_a_pair_remembered_twice_is_one_memory_written_once(tmp_path):
    store = Memories(tmp_path)
    first = store.add("What is my street?", "You live on Larch Crescent.")
    # The same words up to case and punctuation: the same memory, not a second line.
    assert store.add("what is my street", "You live on Larch Crescent!") == first
    assert len((tmp_path / TEACH_FILE).read_text().splitlines()) == 1
    assert store.forget(first.id) == first
    assert store.all() == []


def test_a_pair_holding_a_unicode_line_separator_stays_on_its_line(tmp_path):
    store = Memories(tmp_path)
    odd = store.add("Line\u2028separator?", "Next\x85line")
    after = store.add("What is my street?", "You live on Larch Crescent.")
    assert (odd.line, after.line) == (1, 2)
    assert [m.question for m in store.all()] == ["Line\u2028separator?", "What is my street?"]
    assert store.forget(odd.id) == odd
    assert [m.id for m in store.all()] == [after.id]


def test_an_edit_by_hand_is_seen_on_the_next_read(tmp_path):
    store = Memories(tmp_path)
    assert store.all() == []
    (tmp_path / "me.md").write_text(MARKDOWN, encoding="utf-8")
    assert len(store.all()) == 2


def test_forgetting_removes_only_that_pair_from_its_file(tmp_path):
    store = Memories(tmp_path)
    kept = store.add("What is my street?", "You live on Larch Crescent.")
    gone = store.add("What is my cat called?", "Your cat is called Pixel Quark.")
    (tmp_path / "me.md").write_text(MARKDOWN, encoding="utf-8")
    (tmp_path / TEACH_FILE).chmod(0o600)
    key = next(m for m in store.all() if m.question.startswith("Where"))
    assert store.forget(gone.id) == gone
    assert store.forget(key.id) == key
    assert [m.question for m in store.all()] == [kept.question, "What is my dentist called?"]
    # The Markdown block went with its multi-line answer; the title stays.
    assert (tmp_path / "me.md").read_text() == "# About me\n\nQ: What is my dentist called?\n" + (
        "A: Dr. Ilse Moravec.\n"
    )
    assert (tmp_path / TEACH_FILE).stat().st_mode & 0o777 == 0o600
    with pytest.raises(MemoryNotFoundError):
        store.forget(gone.id)


def test_search_finds_a_memory_by_meaning_and_scores_its_words(tmp_path, embed):
    store = Memories(tmp_path, embed)
    cat = store.add("What is the name of my cat?", "Your cat is called Pixel Quark.")
    store.add("Who is my dentist?", "Your dentist is Dr. Ilse Moravec.")
    store.add("Which street do I live on?", "You live on Larch Crescent.")
    hits = store.search("What is my cat called?")
    assert hits[0].memory == cat
    assert hits[0].dense > hits[1].dense
    assert hits[0].keyword == 1.0  # "cat" and "called" are both in the memory
    assert store.search("   ") == []


def test_without_an_embedder_search_is_by_words_only(tmp_path):
    store = Memories(tmp_path)
    store.add("Who is my dentist?", "Your dentist is Dr. Ilse Moravec.")
    (hit,) = store.search("dentist name", limit=1)
    assert hit.dense == 0.0 and hit.keyword == 0.5


def test_korean_words_match_whatever_particle_they_carry(tmp_path):
    store = Memories(tmp_path)  # words only: no embedder
    store.add("우리 고양이 이름은 뭐야?", "고양이 이름은 나비야.")
    store.add("자전거는 어디에 두었지?", "자전거는 창고에 있어.")
    (best, other) = store.search("고양이의 이름이 뭐였지?", 2)
    assert best.memory.question.startswith("우리 고양이") and best.keyword > other.keyword
