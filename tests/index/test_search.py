"""Fusion and diversity, as functions: RRF weights and MMR."""

from __future__ import annotations

import numpy as np

from cove.index.keywords import fts_query
from cove.index.search import mmr, rrf


def test_rrf_sums_weighted_reciprocal_ranks():
    fused = rrf([([1, 2, 3], 1.0), ([3, 1], 2.0)], k=60)
    assert fused[1] == 1 / 61 + 2 / 62
    assert fused[3] == 1 / 63 + 2 / 61
    assert fused[2] == 1 / 62


def test_a_zero_weight_switches_a_retriever_off():
    assert rrf([([1, 2], 1.0), ([3], 0.0)], k=60).keys() == {1, 2}


def test_mmr_prefers_a_diverse_second_result():
    a = np.array([1.0, 0.0])
    near_a = np.array([0.99, 0.141])
    b = np.array([0.0, 1.0])
    relevance = {1: 1.0, 2: 0.95, 3: 0.8}
    vectors = {1: a, 2: near_a / np.linalg.norm(near_a), 3: b}
    assert mmr([1, 2, 3], relevance, vectors, lam=0.5, k=2) == [1, 3]
    assert mmr([1, 2, 3], relevance, vectors, lam=1.0, k=2) == [1, 2]


def test_fts_queries_are_quoted_words_joined_by_or():
    assert fts_query('connection "pool" NEAR x*') == '"connection" OR "pool" OR "near" OR "x"'
    assert fts_query("?!") is None


def test_stop_words_are_dropped_unless_nothing_else_is_left():
    assert fts_query("how do I rebase a branch") == '"rebase" OR "branch"'
    assert fts_query("to be or not") == '"to" OR "be" OR "or" OR "not"'
