"""Segmenting scripts written without spaces (issue 16): Hangul, Han and Kana runs become
overlapping character pairs in the index and in queries alike; other words are untouched;
migration m008 re-segments an existing index without touching its vectors."""

from __future__ import annotations

import json
import time

import sqlite_utils

from cove.daemon.store import migrations, open_db
from cove.daemon.store.migrations import migrate
from cove.index import manifest
from cove.index.keywords import (
    fts_columns,
    phrase_hits,
    phrase_query,
    query_terms,
    script_share,
    segment,
    strong_match,
    terms,
)


def test_korean_words_become_overlapping_syllable_pairs():
    assert terms("버전입니다") == ["버전", "전입", "입니", "니다"]
    assert terms("버전은") == ["버전", "전은"]
    assert terms("새 버전") == ["새", "버전"]


def test_chinese_and_japanese_runs_become_character_pairs():
    assert terms("数据库") == ["数据", "据库"]
    assert terms("東京都に行く") == ["東京", "京都", "都に", "に行", "行く"]


def test_english_words_and_numbers_are_unchanged():
    assert terms("Rebase the branch, v2 API") == ["Rebase", "the", "branch", "v2", "API"]
    assert query_terms("how do I rebase a branch") == ["rebase", "branch"]
    assert query_terms("버전은") == ["버전", "전은"]
    assert segment("Rebase the branch") is None


def test_a_mixed_run_is_split_by_script():
    assert terms("2024년 Git브랜치") == ["2024", "년", "Git", "브랜", "랜치"]


def test_segmented_text_keeps_everything_else_as_written():
    assert segment("See 버전입니다 (v2).") == "See  버전 전입 입니 니다  (v2)."


def test_headings_are_given_in_plain_text_when_json_would_escape_them():
    assert fts_columns("text", ["Intro", "Setup"]) == (None, None)
    text, heading = fts_columns("text", ["설치 안내"])
    assert text is None and heading.split() == ["설치", "안내"]
    assert fts_columns("text", ["Café"]) == (None, "Café")


def test_script_share_counts_the_query_words_whose_script_the_hits_hold():
    assert script_share("2024년 회의 메모", ["Meeting notes 2024"]) == 0.0
    assert script_share("zorblax 코드", ["the zorblax code"]) == 0.5
    assert script_share("회의 메모", ["회의록"]) == 1.0
    assert script_share("2024", ["anything"]) == 1.0


def test_m008_resegments_an_existing_index_and_leaves_vectors_alone(tmp_path, monkeypatch):
    full = list(migrations.MIGRATIONS)
    assert full[7] is migrations.m008_segment_keyword_index
    monkeypatch.setattr(migrations, "MIGRATIONS", full[:7])
    db = open_db(tmp_path / "cove.db")
    folder = manifest.add_folder(db, str(tmp_path / "docs"))
    file_id = manifest.record_file(
        db, folder["id"], str(tmp_path / "docs" / "ko.md"), status="indexing", size=1, mtime=1
    )
    texts = ["새 버전입니다. 설치는 간단합니다.", "Rebase the branch onto main."]
    for ordinal, text in enumerate(texts):
        db.execute(
            "INSERT INTO chunks (file_id, generation, ordinal, text, heading, embed_hash) "
            "VALUES (?, 1, ?, ?, ?, ?)",
            [file_id, ordinal, text, json.dumps(["안내"]), f"hash-{ordinal}"],
        )
        db.execute(
            "INSERT INTO embeddings (hash, model, vector) VALUES (?, 'm', ?)",
            [f"hash-{ordinal}", bytes([ordinal]) * 8],
        )
    manifest.make_live(
        db,
        file_id,
        1,
        size=1,
        mtime=time.time(),
        content_hash="h",
        file_format="md",
        chunk_count=2,
    )
    korean, english = (r[0] for r in db.execute("SELECT id FROM chunks ORDER BY ordinal"))
    embeddings = db.execute("SELECT * FROM embeddings ORDER BY hash").fetchall()
    chunks = db.execute("SELECT id, text, heading, embed_hash FROM chunks ORDER BY id").fetchall()

    def found(query: str) -> list[int]:
        return [
            r[0]
            for r in db.execute(
                "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY rowid", [query]
            )
        ]

    assert found('"버전"') == []  # the old index holds whole words: 버전입니다
    monkeypatch.setattr(migrations, "MIGRATIONS", full)
    assert migrate(db) == [fn.__name__ for fn in full[7:]]

    assert found('"버전"') == [korean] and found('"안내"') == [korean, english]
    assert found('"rebase"') == [english]
    assert db.execute("SELECT * FROM embeddings ORDER BY hash").fetchall() == embeddings
    assert (
        db.execute("SELECT id, text, heading, embed_hash FROM chunks ORDER BY id").fetchall()
        == chunks
    )
    db.execute("DELETE FROM chunks WHERE id = ?", [korean])  # the delete trigger still pairs
    assert found('"버전"') == [] and found('"안내"') == [english]
    db.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")


def test_a_rare_korean_word_is_a_strong_match_although_its_syllables_are_common():
    db = sqlite_utils.Database(memory=True)
    db.execute("CREATE VIRTUAL TABLE chunks_fts USING fts5(text, heading)")
    # 다래, 래나 and 나무 are in every note; only the first holds them as one word.
    notes = ["다래나무 열매는 가을에 익습니다."]
    notes += [f"다래끼와 미래나라 나무 이야기 {n}" for n in range(8)]
    for rowid, text in enumerate(notes, start=1):
        db.execute(
            "INSERT INTO chunks_fts(rowid, text, heading) VALUES (?, ?, '')",
            [rowid, segment(text)],
        )
    assert strong_match(db, "다래나무", [(1, 9.0), (2, 3.0)])
    assert not strong_match(db, "나무", [(1, 9.0), (2, 3.0)])  # a common word
    assert not strong_match(db, "다래나무", [(1, 9.0), (2, 8.0)])  # not clearly first


def test_a_short_query_is_looked_up_whole_as_a_phrase_of_its_terms():
    assert phrase_query("--show-toplevel") == '"show toplevel"'
    assert phrase_query("push.followTags") == '"push followtags"'
    assert phrase_query("다래나무 열매") == '"다래 래나 나무 열매"'
    assert phrase_query("rebase") is None  # one term: the strong-match rule's case
    assert phrase_query("how do I move the last three commits onto another branch") is None


def test_phrase_hits_are_the_few_live_chunks_holding_the_query_whole(tmp_path):
    db = open_db(tmp_path / "cove.db")
    folder = manifest.add_folder(db, str(tmp_path / "docs"))
    file_id = manifest.record_file(
        db, folder["id"], str(tmp_path / "docs" / "a.md"), status="indexing", size=1, mtime=1
    )
    texts = ["git rev-parse --show-toplevel prints the top directory."]
    texts += [f"show the toplevel menu, then show it again ({n})." for n in range(12)]
    texts += ["Both show toplevel windows.", "Show-toplevel is not an option."]
    rows = [{"text": t, "heading": [], "embed_hash": f"h{i}"} for i, t in enumerate(texts)]
    generation, ids = manifest.write_generation(db, file_id, rows)
    manifest.make_live(
        db, file_id, generation, size=1, mtime=time.time(), content_hash="h",
        file_format="md", chunk_count=len(ids),
    )  # fmt: skip
    assert [i for i, _ in phrase_hits(db, "--show-toplevel")] == [ids[0]]  # as written
    assert [i for i, _ in phrase_hits(db, "Show  Toplevel")] == [ids[13]]
    # Written nowhere as asked: the chunks holding its words as a phrase.
    assert {i for i, _ in phrase_hits(db, "show, toplevel")} == {ids[0], ids[13], ids[14]}
    assert phrase_hits(db, "show again") == []  # in 12 chunks: a common phrase, not a find
