"""Retrieval quality in BEIR format: queries.jsonl, qrels TSV, recall@k, MRR and nDCG@10.

Documents are files: a qrels corpus-id names a file by its path relative to a watched folder
(or absolute), and a ranking is the order in which search first returns each file.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path


def load_queries(path: Path) -> dict[str, str]:
    """BEIR queries.jsonl: one {"_id", "text"} object per line."""
    queries = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            queries[str(row["_id"])] = str(row["text"])
        except (ValueError, KeyError) as exc:
            raise ValueError(f"{path}:{number}: not a BEIR query line ({exc})") from None
    return queries


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """BEIR qrels TSV: query-id, corpus-id, score (a header line is optional)."""
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (number == 1 and row[0] == "query-id"):
                continue
            if len(row) < 3:
                raise ValueError(f"{path}:{number}: expected query-id, corpus-id, score")
            score = int(row[2])
            if score > 0:
                qrels.setdefault(row[0], {})[row[1]] = score
    return qrels


def file_ranking(paths: Sequence[str], resolve: Callable[[str], str]) -> list[str]:
    """Files in the order search first returns them, as corpus ids."""
    seen: dict[str, None] = {}
    for path in paths:
        seen.setdefault(resolve(path), None)
    return list(seen)


def recall_at(ranking: Sequence[str], relevant: dict[str, int], k: int) -> float:
    return len(set(ranking[:k]) & set(relevant)) / len(relevant) if relevant else 0.0


def reciprocal_rank(ranking: Sequence[str], relevant: dict[str, int]) -> float:
    for rank, doc in enumerate(ranking, start=1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at(ranking: Sequence[str], relevant: dict[str, int], k: int = 10) -> float:
    gains = [relevant.get(doc, 0) for doc in ranking[:k]]
    dcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(gains))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def evaluate(
    rankings: dict[str, list[str]], qrels: dict[str, dict[str, int]], k: int
) -> dict[str, float]:
    """Mean recall@k, MRR and nDCG@10 over the queries that have judgements."""
    judged = [q for q in rankings if q in qrels]
    if not judged:
        return {f"recall@{k}": 0.0, "mrr": 0.0, "ndcg@10": 0.0, "queries": 0}
    return {
        f"recall@{k}": sum(recall_at(rankings[q], qrels[q], k) for q in judged) / len(judged),
        "mrr": sum(reciprocal_rank(rankings[q], qrels[q]) for q in judged) / len(judged),
        "ndcg@10": sum(ndcg_at(rankings[q], qrels[q], 10) for q in judged) / len(judged),
        "queries": len(judged),
    }
