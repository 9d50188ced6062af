"""BM25 over FTS5: chunks holding every query word come first; any word widens the search."""

from __future__ import annotations

import time

import pytest

from cove.daemon.store import open_db
from cove.index import manifest
from cove.index.keywords import bm25_search


@pytest.fixture()
def db(tmp_path):
    """A migrated cove.db with one folder; `add(name, texts)` makes a live file of chunks."""
    database = open_db(tmp_path / "cove.db")
    folder = manifest.add_folder(database, str(tmp_path / "docs"))

    def add(name: str, texts: list[str]) -> list[int]:
        path = str(tmp_path / "docs" / name)
        file_id = manifest.record_file(
            database, folder["id"], path, status="indexing", size=1, mtime=1
        )
        rows = [
            {"text": t, "heading": [], "embed_hash": f"{name}-{i}"} for i, t in enumerate(texts)
        ]
        generation, ids = manifest.write_generation(database, file_id, rows)
        manifest.make_live(
            database,
            file_id,
            generation,
            size=1,
            mtime=time.time(),
            content_hash=name,
            file_format="txt",
            chunk_count=len(ids),
        )
        return ids

    database.add = add  # type: ignore[attr-defined]
    return database


def test_chunks_with_every_word_are_enough_when_there_are_limit_of_them(db):
    both = db.add("both.txt", [f"rebase the branch onto main, take {i}" for i in range(3)])
    db.add("one.txt", ["rebase rebase rebase", "branch"])
    found = [chunk_id for chunk_id, _ in bm25_search(db, "rebase a branch", limit=3)]
    assert sorted(found) == sorted(both)


def test_too_few_chunks_with_every_word_widen_to_any_word(db):
    both = db.add("both.txt", ["rebase the branch onto main"])
    rebase, branch = db.add("one.txt", ["rebase interactively", "delete a branch"])
    found = [chunk_id for chunk_id, _ in bm25_search(db, "rebase a branch", limit=3)]
    assert found[0] == both[0]
    assert set(found) == {both[0], rebase, branch}


def test_superseded_generations_are_never_returned(db):
    old = db.add("notes.txt", ["the old wording about rebase"])
    new = db.add("notes.txt", ["the new wording about rebase"])
    assert [chunk_id for chunk_id, _ in bm25_search(db, "rebase wording", limit=5)] == new
    assert old != new


def test_a_query_of_only_punctuation_finds_nothing(db):
    db.add("notes.txt", ["anything"])
    assert bm25_search(db, "?! ...", limit=5) == []


def test_a_korean_word_with_one_particle_finds_it_with_another(db):
    version = db.add("ko.txt", ["새 버전입니다. 설치 방법은 아래와 같습니다."])
    db.add("other.txt", ["회의는 월요일에 있습니다."])
    assert [chunk_id for chunk_id, _ in bm25_search(db, "버전은?", limit=5)] == version


def test_chinese_and_japanese_words_are_found_inside_sentences(db):
    japanese, chinese = db.add("cjk.txt", ["来週東京都に行きます", "我们使用向量数据库存储文档"])
    db.add("en.txt", ["Tokyo and vector databases, in English"])
    assert [chunk_id for chunk_id, _ in bm25_search(db, "東京", limit=5)] == [japanese]
    assert [chunk_id for chunk_id, _ in bm25_search(db, "数据库是什么", limit=5)] == [chinese]
