"""How a source's place reads: one formatter for the CLI, the TUI, MCP, exports and prompts."""

from __future__ import annotations

import pytest

from cove.daemon.client.sources import cited, location, place


@pytest.mark.parametrize(
    ("page", "start", "end", "expected"),
    [
        (3, None, None, "page 3"),
        (1, 4, 9, "page 1"),  # a page locates the source on its own
        (None, 3, 3, "line 3"),  # not "lines 3-3"
        (None, 3, None, "line 3"),
        (None, 10, 24, "lines 10-24"),
        (None, None, None, ""),
    ],
)
def test_place(page, start, end, expected):
    assert place(page, start, end) == expected
    assert location({"page": page, "line_start": start, "line_end": end}) == expected


def test_a_source_without_the_mark_counts_as_cited():
    assert cited({}) and cited({"cited": True}) and not cited({"cited": False})
