"""Korean in the chat: a stored session with a Korean question, a grounded Korean answer and
sources under Korean paths, shown as the daemon's session documents give them. Hangul is two
cells wide: lines wrap and labels are cut between characters, borders stay where they are.

No daemon is needed (the status bar says it is down): the documents are what `GET
/api/sessions` and `GET /api/sessions/{id}` answer, shown by the chat's own methods."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from textual.pilot import Pilot

from cove.tui.screens.chat import ChatScreen
from cove.tui.widgets.sessions import SessionsSidebar
from tests.tui.conftest import make_app
from tests.tui.test_screens import quiet, settled

QUESTION = "PostgreSQL의 기본 checkpoint_timeout 값은 얼마이며, 바꾸려면 어떤 파일을 고쳐야 하나요?"
ANSWER = (
    "기본값은 5분입니다 [1]. `postgresql.conf` 파일에서 checkpoint_timeout 값을 바꾼 뒤 "
    "서버 설정을 다시 불러오면 됩니다 [2]."
)
UNSUPPORTED = "이 값은 30초에서 1일 사이로 정할 수 있습니다."
SOURCES = [
    {
        "n": 1,
        "path": "/home/사용자/문서/데이터베이스/체크포인트 설정 안내.md",
        "heading": ["서버 설정", "체크포인트와 미리 쓰기 로그"],
        "page": None,
        "line_start": 12,
        "line_end": 14,
        "snippet": "checkpoint_timeout의 기본값은 5분입니다.",
        "cited": True,
        "quote": None,
        "memory": None,
    },
    {
        "n": 2,
        "path": "/home/사용자/문서/데이터베이스/설정 파일.md",
        "heading": ["설정 파일 고치기"],
        "page": None,
        "line_start": 3,
        "line_end": 3,
        "snippet": "설정은 postgresql.conf 파일에 있습니다.",
        "cited": True,
        "quote": None,
        "memory": None,
    },
    {
        "n": 3,
        "path": "/home/사용자/문서/운영 매뉴얼.pdf",
        "heading": ["부록"],
        "page": 7,
        "line_start": None,
        "line_end": None,
        "snippet": "부록: 설정 목록",
        "cited": False,
        "quote": None,
        "memory": None,
    },
]
LAST_ACTIVITY = 1767225600.0  # 2026-01-01 00:00 UTC
SESSION = {
    "id": "s_korean",
    "title": "PostgreSQL 체크포인트 기본값과 설정 파일 고치기",
    "messages": 2,
    "last_activity": LAST_ACTIVITY,
}
MESSAGES = [
    {"id": "m_question", "role": "user", "content": QUESTION},
    {
        "id": "m_answer",
        "role": "assistant",
        "content": ANSWER + " " + UNSUPPORTED,
        "grounded": 1,
        "sources": SOURCES,
        "timings": {},
        "claims": [
            {"text": "기본값은 5분입니다.", "supported": True, "n": 1},
            {"text": "서버 설정을 다시 불러오면 됩니다.", "supported": True, "n": 2},
            {"text": UNSUPPORTED, "supported": False, "n": None},
        ],
        "feedback": None,
    },
]


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """Session times shown in UTC, wherever the test runs."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def korean_session(pilot: Pilot) -> None:
    await settled(pilot)
    pilot.app.clear_notifications()  # "daemon down" is not what this snapshot is about
    screen = pilot.app.screen
    assert isinstance(screen, ChatScreen)
    await screen.query_one(SessionsSidebar).show_sessions([SESSION], SESSION["id"])
    await screen.show_session({"session": SESSION, "messages": MESSAGES})
    await quiet(pilot)


def test_snapshot_a_korean_grounded_answer(tmp_path: Path, utc: None, snap_compare) -> None:
    app = make_app(tmp_path / "no-daemon")
    assert snap_compare(app, run_before=korean_session, terminal_size=(100, 30))
