"""Copy the Git documentation corpus for `bench/retrieval.py` into a directory.

The corpus is the AsciiDoc source of Git's manual pages and guides that Debian's `git-doc`
package installs as `/usr/share/doc/git-doc/*.txt` (top level only: the `howto/` and
`technical/` subfolders and the rendered HTML are left out). Corpora are not committed:
the judgements in `bench/eval/git-qrels.tsv` name these files by their base name (e.g.
`git-rebase.txt`), so any copy made by this script can be evaluated against them.

Note that Cove loads `.txt` as plain text: the AsciiDoc headings are not parsed, so chunks of
this corpus carry no heading trail. `--format html` copies instead the rendered twin of each
page (`git-rebase.html` for `git-rebase.txt`), whose h1-h3 give Cove's HTML loader a heading
trail ("git-rebase(1) Manual Page > DESCRIPTION"). Pages without a twin are left out: 44
`.txt` files have none, mostly fragments (`diff-options.txt`, `rev-list-options.txt`) that the
HTML pages include inline. `html_qrels` maps the judgements onto the twins and drops those on
files without one.

The Korean corpus (issue 16) is LibreOffice's help in Korean, Debian's `libreoffice-help-ko`
(`/usr/share/libreoffice/help/ko/text/**/*.html`), restricted to the pages whose visible text is
mostly Hangul (`korean_pages`: 783 of 2,561; the rest are untranslated English). Its English
counterpart, for the cross-language sets, is `libreoffice-help-en-us`: the same relative paths
under `/usr/share/libreoffice/help/en-US`. Judgements name pages by that relative path
(`text/scalc/guide/goalseek.html`), so both corpora are judged by the same ids. CI needs
`apt-get install -y --no-install-recommends libreoffice-help-ko libreoffice-help-en-us git-doc`.

Usage: python bench/eval_corpus.py DEST [--format txt|html|ko|en] [--source DIR] [--qrels FILE]
"""

from __future__ import annotations

import argparse
import csv
import html
import re
import shutil
import sys
from pathlib import Path

SOURCE = Path("/usr/share/doc/git-doc")
QRELS = Path(__file__).resolve().parent / "eval" / "git-qrels.tsv"
LIBREOFFICE_HELP = Path("/usr/share/libreoffice/help")
HELP_PACKAGES = {"ko": "libreoffice-help-ko", "en": "libreoffice-help-en-us"}
HELP_DIRS = {"ko": "ko", "en": "en-US"}
_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_LATIN = re.compile(r"[A-Za-z]")


def help_root(lang: str, base: Path = LIBREOFFICE_HELP) -> Path:
    """The installed LibreOffice help for `lang` ("ko" or "en"), or an error naming the
    Debian package to install."""
    root = base / HELP_DIRS[lang]
    if not (root / "text").is_dir():
        raise FileNotFoundError(
            f"no LibreOffice help under {root}: apt-get install {HELP_PACKAGES[lang]}"
        )
    return root


def page_text(path: Path) -> str:
    """The visible text of a LibreOffice help page's display area (for selecting pages and
    mining exact-match queries; Cove indexes the page with its own HTML loader)."""
    page = path.read_text(encoding="utf-8", errors="replace")
    start = page.find('id="DisplayArea"')
    body = page[page.find(">", start) + 1 :] if start >= 0 else page
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", body, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def korean_pages(root: Path) -> list[Path]:
    """The pages of the Korean help whose visible text has more Hangul than Latin letters."""
    pages = []
    for path in sorted((root / "text").rglob("*.html")):
        text = page_text(path)
        if len(_HANGUL.findall(text)) > len(_LATIN.findall(text)):
            pages.append(path)
    return pages


def copy_help_corpus(dest: Path, lang: str, base: Path = LIBREOFFICE_HELP) -> list[Path]:
    """Copy the Korean pages (`korean_pages`) of the help in `lang` into `dest`, keeping their
    paths relative to the help root (`text/scalc/guide/goalseek.html`): for "en", the English
    twins of those pages (a page without one is skipped)."""
    ko = help_root("ko", base)
    root = help_root(lang, base)
    copies = []
    for page in korean_pages(ko):
        rel = page.relative_to(ko)
        if (root / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            copies.append(Path(shutil.copy2(root / rel, dest / rel)))
    return copies


def copy_corpus(dest: Path, source: Path = SOURCE, fmt: str = "txt") -> list[Path]:
    """Copy `source/*.txt` (regular files, top level) into `dest`; return the copies. With
    `fmt="html"`, copy each one's `.html` twin instead (pages without a twin are skipped)."""
    files = sorted(p for p in source.glob("*.txt") if p.is_file())
    if not files:
        raise FileNotFoundError(f"no *.txt under {source}: install Debian's git-doc package")
    if fmt == "html":
        twins = (p.with_suffix(".html") for p in files)
        files = [p for p in twins if p.is_file() and not p.is_symlink()]
    elif fmt != "txt":
        raise ValueError(f"unknown corpus format {fmt!r}")
    dest.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy2(p, dest / p.name)) for p in files]


def _qrels_rows(qrels: Path) -> list[list[str]]:
    with qrels.open(encoding="utf-8", newline="") as handle:
        return [r for r in csv.reader(handle, delimiter="\t") if r and r[0] != "query-id"]


def html_qrels(qrels: Path, dest: Path, corpus: Path) -> list[list[str]]:
    """Write `qrels` to `dest` with each `.txt` corpus id renamed to its `.html` twin, keeping
    only judgements whose twin is a file of `corpus`; return the rows dropped."""
    kept, dropped = [], []
    for query, corpus_id, *rest in _qrels_rows(qrels):
        twin = str(Path(corpus_id).with_suffix(".html"))
        if (corpus / twin).is_file():
            kept.append([query, twin, *rest])
        else:
            dropped.append([query, corpus_id, *rest])
    lines = ["query-id\tcorpus-id\tscore", *("\t".join(r) for r in kept)]
    dest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dropped


def missing_judged(corpus: Path, qrels: Path = QRELS) -> list[str]:
    """Corpus ids named in `qrels` that are not files of `corpus`."""
    return sorted({r[1] for r in _qrels_rows(qrels) if not (corpus / r[1]).is_file()})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="directory to copy the corpus into")
    parser.add_argument("--source", type=Path, default=SOURCE)
    parser.add_argument("--format", choices=("txt", "html", "ko", "en"), default="txt")
    parser.add_argument("--qrels", type=Path, default=QRELS, help="check its corpus ids exist")
    args = parser.parse_args(argv)
    if args.format in HELP_DIRS:
        copies = copy_help_corpus(args.dest, args.format)
    else:
        copies = copy_corpus(args.dest, args.source, args.format)
    size = sum(p.stat().st_size for p in copies)
    print(f"copied {len(copies)} files ({size / 1e6:.1f} MB) to {args.dest}", file=sys.stderr)
    if args.format == "html":
        mapped = args.dest.parent / f"{args.dest.name}-qrels.tsv"  # not inside the corpus
        dropped = html_qrels(args.qrels, mapped, args.dest)
        print(f"wrote {mapped}; dropped {len(dropped)} judgements (no twin)", file=sys.stderr)
        return 0
    missing = missing_judged(args.dest, args.qrels)
    if missing:
        print(f"judged but missing from the corpus: {', '.join(missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
