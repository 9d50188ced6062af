"""Document loaders: turn a file into a `Document` of structural blocks.

`load_document` picks a loader by file suffix. Unknown suffixes and binary content raise
`SkipFile` (state "skipped"); supported files that cannot be read raise `LoadError` with a
readable reason (state "failed"). `IsolatedLoader` (in `isolated.py`) runs the same thing
in a child process with a time limit.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from cove.index.document import Document, SkipFile

# fmt: off
_CODE_SUFFIXES = (
    ".py", ".pyi", ".pyx", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".go", ".rs", ".java",
    ".kt", ".kts", ".scala", ".groovy", ".gradle", ".c", ".h", ".cc", ".cpp", ".cxx", ".hpp",
    ".hh", ".hxx", ".cs", ".m", ".mm", ".swift", ".rb", ".php", ".pl", ".pm", ".lua", ".r",
    ".jl", ".dart", ".hs", ".ml", ".mli", ".ex", ".exs", ".erl", ".clj", ".cljs", ".el",
    ".lisp", ".scm", ".zig", ".nim", ".sh", ".bash", ".zsh", ".fish", ".ps1", ".bat", ".cmd",
    ".toml", ".yaml", ".yml", ".ini", ".cfg", ".conf", ".properties", ".sql", ".graphql",
    ".proto", ".css", ".scss", ".sass", ".less", ".vue", ".svelte", ".xml", ".xsd", ".cmake",
    ".mk", ".tf", ".hcl", ".nix", ".vim", ".dockerfile",
)
# fmt: on

# suffix -> (loader module, format the loader parses)
_LOADERS: dict[str, tuple[str, str]] = {
    **{suffix: ("text", "code") for suffix in _CODE_SUFFIXES},
    **{suffix: ("text", "text") for suffix in (".txt", ".text", ".log", ".tex")},
    **{suffix: ("text", "markdown") for suffix in (".md", ".markdown", ".mdown", ".mkd")},
    ".rst": ("text", "rst"),
    ".org": ("text", "org"),
    ".csv": ("text", "csv"),
    ".tsv": ("text", "csv"),
    ".json": ("text", "json"),
    ".jsonl": ("text", "json"),
    ".ndjson": ("text", "json"),
    ".html": ("html", "html"),
    ".htm": ("html", "html"),
    ".xhtml": ("html", "html"),
    ".pdf": ("pdf", "pdf"),
    ".docx": ("office", "docx"),
    ".pptx": ("office", "pptx"),
    ".epub": ("epub", "epub"),
}

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_LOADERS)
"""Lower-case suffixes, with the dot, that `load_document` reads."""

__all__ = ["SUPPORTED_SUFFIXES", "is_plain_text", "load_document"]


def is_plain_text(path: Path) -> bool:
    """Whether the file is read as it is (its lines are the lines Cove cites), not parsed
    out of a container format (PDF, HTML, Office, EPUB)."""
    entry = _LOADERS.get(Path(path).suffix.lower())
    return entry is not None and entry[0] == "text"


def load_document(path: Path, max_bytes: int) -> Document:
    """Load the file at `path` as a Document, reading at most `max_bytes` bytes.

    Raises SkipFile for unsupported suffixes and binary content, LoadError for supported
    files that cannot be read (corrupt, permission denied, vanished, symlink loop, too
    large). An empty file gives a Document without blocks.
    """
    path = Path(path)
    entry = _LOADERS.get(path.suffix.lower())
    if entry is None:
        raise SkipFile(f"unsupported file type: {path.suffix or '(no suffix)'}")
    module_name, parsed_format = entry
    # Imported on first use: the parsers (pypdf, python-docx, lxml...) are heavy, and a
    # process that only needs SUPPORTED_SUFFIXES should not pay for them.
    module = importlib.import_module(f"{__name__}.{module_name}")
    return module.load(path, max_bytes, parsed_format)
