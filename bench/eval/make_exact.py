"""Write the exact-match set, `exact-queries.jsonl` and `exact-qrels.tsv`, from the corpora.

Mechanical, seeded (so rerunning on the same packages gives the same set):
- git-doc (`/usr/share/doc/git-doc/*.txt`): long option names (`--reapply-cherry-picks`) and
  camel-case config keys (`push.followTags`) that occur in one file only, at least twice there;
- the Korean help (`bench/eval_corpus.py`'s `korean_pages`, ids relative to the help root):
  Hangul words of five or more syllables and two-word Hangul phrases found in one page only.
Each query's judgements are every file that holds it as a substring (grade 2); a query found
in more than three files is dropped. Each query says its corpus (`"corpus": "git"|"ko"`).

Usage: python bench/eval/make_exact.py
"""

from __future__ import annotations

import collections
import json
import random
import re
import sys
from pathlib import Path

EVAL = Path(__file__).resolve().parent
sys.path.insert(0, str(EVAL.parent))

from eval_corpus import SOURCE, help_root, korean_pages, page_text  # noqa: E402

OPTION = r"(?<![\w-])--[a-z][a-z0-9]+(?:-[a-z0-9]+)+(?![\w-])"
CONFIG_KEY = r"(?<![\w.])[a-z]+\.[a-z][a-zA-Z]{5,}(?![\w.(])"
HANGUL_WORD = r"[\uac00-\ud7a3]{4,}"
HANGUL_PHRASE = r"[\uac00-\ud7a3]{2,} [\uac00-\ud7a3]{3,}"
NOT_CONFIG = {"e", "i", "www", "example", "git"}


def frequencies(docs: dict[str, str], pattern: str) -> tuple[dict, collections.Counter]:
    """Per token, the documents holding it; per (token, document), its count."""
    df: dict[str, set[str]] = collections.defaultdict(set)
    tf: collections.Counter = collections.Counter()
    for name, text in docs.items():
        for token in re.findall(pattern, text):
            df[token].add(name)
            tf[(token, name)] += 1
    return df, tf


def rare(docs: dict[str, str], pattern: str, n: int, minlen: int, rng: random.Random) -> list:
    """Up to `n` tokens of `pattern` in exactly one document, at least twice there."""
    df, tf = frequencies(docs, pattern)
    tokens = sorted(
        t
        for t, names in df.items()
        if len(names) == 1 and len(t) >= minlen and tf[(t, next(iter(names)))] >= 2
    )
    rng.shuffle(tokens)
    return tokens[:n]


def main() -> int:
    rng = random.Random(16)
    git = {
        p.name: p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(SOURCE.glob("*.txt"))
        if p.is_file()
    }
    root = help_root("ko")
    ko = {str(p.relative_to(root)): page_text(p) for p in korean_pages(root)}
    keys = [
        t
        for t in rare(git, CONFIG_KEY, 400, 10, rng)
        if t.split(".")[0] not in NOT_CONFIG and re.search(r"[A-Z]", t)
    ][:30]
    picked = [
        *(("git", t) for t in rare(git, OPTION, 50, 10, rng)),
        *(("git", t) for t in keys),
        *(("ko", t) for t in rare(ko, HANGUL_WORD, 30, 5, rng)),
        *(("ko", t) for t in rare(ko, HANGUL_PHRASE, 15, 8, rng)),
    ]
    docs = {"git": git, "ko": ko}
    queries, qrels = [], []
    for corpus, text in picked:
        files = sorted(name for name, body in docs[corpus].items() if text in body)
        if 1 <= len(files) <= 3:
            qid = f"x{len(queries) + 1}"
            queries.append({"_id": qid, "text": text, "corpus": corpus})
            qrels += [f"{qid}\t{name}\t2" for name in files]
    lines = (json.dumps(q, ensure_ascii=False) + "\n" for q in queries)
    (EVAL / "exact-queries.jsonl").write_text("".join(lines), encoding="utf-8")
    rows = "\n".join(["query-id\tcorpus-id\tscore", *qrels]) + "\n"
    (EVAL / "exact-qrels.tsv").write_text(rows, encoding="utf-8")
    print(f"{len(queries)} queries, {len(qrels)} judgements", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
