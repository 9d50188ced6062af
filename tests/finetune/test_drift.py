"""The general sets that ship with Cove: the held-out set (drift) and the replay set load,
share no prompt, render the way training rows do; a small subset samples every kind of
prompt, and the base's scores are cached."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

from cove.daemon.answer.grounding import GENERAL_SYSTEM_PROMPT
from cove.finetune.batches import IGNORE, RowScore, encode
from cove.finetune.drift import (
    GENERAL_FILE,
    PROMPTS_FILE,
    REPLAY_FILE,
    REPLAY_PROMPTS_FILE,
    read_cached_scores,
    read_general,
    read_prompts,
    render_general,
    spread_subset,
    write_cached_scores,
)

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_the_general_set_answers_every_prompt_and_ships_as_package_data():
    rows, prompts = read_general(), read_prompts()
    assert 120 <= len(rows) <= 200
    assert [(row["category"], row["question"]) for row in rows] == prompts
    assert len({category for category, _ in prompts}) >= 6
    assert all(row["answer"].strip() for row in rows)
    assert {row["system"] for row in rows} == {GENERAL_SYSTEM_PROMPT}
    setuptools = tomllib.loads(PYPROJECT.read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["cove.finetune"]
    for path in (GENERAL_FILE, PROMPTS_FILE, REPLAY_FILE, REPLAY_PROMPTS_FILE):
        assert any(fnmatch(f"data/{path.name}", pattern) for pattern in patterns)


def test_the_replay_set_answers_other_prompts_than_the_held_out_set():
    replay, prompts = read_general(REPLAY_FILE), read_prompts(REPLAY_PROMPTS_FILE)
    assert len(replay) >= 100
    assert [(row["category"], row["question"]) for row in replay] == prompts
    assert all(row["answer"].strip() for row in replay)
    held_out = {question for _, question in read_prompts()}
    assert not held_out & {question for _, question in prompts}  # training never sees them


def test_general_rows_render_like_training_rows(tokenizer):
    items, rows = read_general(), render_general(tokenizer)
    whole = next(row for row, item in zip(rows, items, strict=True) if not item["cut"])
    assert whole["messages"][0] == {"role": "system", "content": GENERAL_SYSTEM_PROMPT}
    assert whole["prompt"] + whole["completion"] == tokenizer.apply_chat_template(
        whole["messages"], tokenize=False
    )
    assert whole["completion"].startswith(whole["target"])
    assert whole["completion"] != whole["target"]  # the end of the turn is scored too
    # an answer cut at the generation limit is scored without an end of turn
    cut = next(row for row, item in zip(rows, items, strict=True) if item["cut"])
    assert cut["completion"] == cut["target"]
    learned = [token for token in encode(tokenizer, cut).labels if token != IGNORE]
    assert tokenizer.decode(learned) == cut["target"]


def test_a_spread_subset_samples_every_category_the_same_way_each_time():
    rows = read_general()
    subset = spread_subset(rows, 16)
    assert len(subset) == len(set(subset)) == 16
    assert {rows[i]["category"] for i in subset} == {row["category"] for row in rows}
    assert spread_subset(rows, 16) == subset
    assert spread_subset(rows[:3], 16) == [0, 1, 2]


def test_base_scores_are_reused_only_under_their_key(tmp_path):
    cache = tmp_path / "general-base-scores.json"
    scores = [RowScore(1.5, 3, True, 0.9), RowScore(0.2, 1, False, 0.2)]
    assert read_cached_scores(cache, "base-a") is None
    write_cached_scores(cache, "base-a", scores)
    assert read_cached_scores(cache, "base-a") == scores
    assert read_cached_scores(cache, "base-b") is None  # another base, set or backend
    assert read_cached_scores(None, "base-a") is None
    cache.write_text("{not json")
    assert read_cached_scores(cache, "base-a") is None
