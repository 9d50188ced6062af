"""The key table (help screen and README), read from the bindings themselves so it
cannot drift from what the keys do."""

from __future__ import annotations

from textual.binding import Binding

KEY_NAMES = {
    "question_mark": "?",
    "plus": "+",
    "minus": "-",
    "escape": "Esc",
    "enter": "Enter",
    "delete": "Delete",
    "up": "Up",
    "down": "Down",
    "tab": "Tab",
}


def key_label(keys: str) -> str:
    """'ctrl+n' -> 'Ctrl+N', 'delete,d' -> 'Delete / d', 'question_mark' -> '?'."""
    labels = []
    for key in keys.split(","):
        key = key.strip()
        if key in KEY_NAMES:
            labels.append(KEY_NAMES[key])
        elif key.startswith("ctrl+"):
            labels.append("Ctrl+" + key[5:].upper())
        elif key.startswith("f") and key[1:].isdigit():
            labels.append(key.upper())
        else:
            labels.append(key)
    return " / ".join(labels)


def bindings(cls: type) -> list[tuple[str, str]]:
    """(keys, what they do) for the bindings a class declares itself (the tooltip is the
    longer description; the footer shows the short one)."""
    rows = []
    for binding in cls.__dict__.get("BINDINGS", []):
        if isinstance(binding, Binding):
            rows.append((key_label(binding.key), binding.tooltip or binding.description))
    return rows
