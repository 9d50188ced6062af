"""Copy the Git documentation corpus for `bench/retrieval.py` into a directory.

The corpus is the AsciiDoc source of Git's manual pages and guides that Debian's `git-doc`
package installs as `/usr/share/doc/git-doc/*.txt` (top level only: the `howto/` and
`technical/` subfolders and the rendered HTML are left out). Corpora are not committed:
the judgements in `bench/eval/git-qrels.tsv` name these files by their base name (e.g.
`git-rebase.txt`), so any copy made by this script can be evaluated against them.

Note that Cove loads `.txt` as plain text: the AsciiDoc headings are not parsed, so chunks of
this corpus carry no heading trail.

Usage: python bench/eval_corpus.py DEST [--source /usr/share/doc/git-doc] [--qrels FILE]
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

SOURCE = Path("/usr/share/doc/git-doc")
QRELS = Path(__file__).resolve().parent / "eval" / "git-qrels.tsv"


def copy_corpus(dest: Path, source: Path = SOURCE) -> list[Path]:
    """Copy `source/*.txt` (regular files, top level) into `dest`; return the copies."""
    files = sorted(p for p in source.glob("*.txt") if p.is_file())
    if not files:
        raise FileNotFoundError(f"no *.txt under {source}: install Debian's git-doc package")
    dest.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(p, dest / p.name)) for p in files]


def missing_judged(corpus: Path, qrels: Path = QRELS) -> list[str]:
    """Corpus ids named in `qrels` that are not files of `corpus`."""
    with qrels.open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.reader(handle, delimiter="\t") if r and r[0] != "query-id"]
    return sorted({r[1] for r in rows if not (corpus / r[1]).is_file()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="directory to copy the corpus into")
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--qrels", type=Path, default=QRELS, help="check its corpus ids exist")
    args = parser.parse_args(argv)
    copies = copy_corpus(args.dest, args.source)
    size = sum(p.stat().st_size for p in copies)
    print(f"copied {len(copies)} files ({size / 1e6:.1f} MB) to {args.dest}", file=sys.stderr)
    missing = missing_judged(args.dest, args.qrels)
    if missing:
        print(f"judged but missing from the corpus: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
