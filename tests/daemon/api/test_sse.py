"""The one SSE polling loop behind /api/index/events and /api/train/runs/{id}/events."""

from __future__ import annotations

import asyncio

from cove.daemon.api import sse


class Request:
    """Connected for `polls` checks, then gone."""

    def __init__(self, polls: int) -> None:
        self.polls = polls

    async def is_disconnected(self) -> bool:
        self.polls -= 1
        return self.polls < 0


def collect(events) -> list[str]:
    async def run() -> list[str]:
        return [event async for event in events]

    return asyncio.run(run())


def reader(values):
    values = iter(values)

    async def read() -> dict:
        return next(values)

    return read


def test_an_event_for_each_change_and_a_keep_alive_when_quiet(monkeypatch):
    monkeypatch.setattr(sse, "HEARTBEAT_S", 0.002)
    read = reader([{"n": 1}, {"n": 1}, {"n": 2}, {"n": 2}, {"n": 2}, {"n": 2}])
    events = collect(sse.poll_events(Request(6), read, "status", 0.001))
    assert events[0] == 'event: status\ndata: {"n": 1}\n\n'
    assert events[1] == 'event: status\ndata: {"n": 2}\n\n'
    assert ": keep-alive\n\n" in events[2:]


def test_the_stream_ends_with_the_last_event():
    read = reader([{"status": "running"}, {"status": "promoted"}, {"status": "never read"}])
    events = collect(
        sse.poll_events(Request(10), read, "run", 0.001, last=lambda d: d["status"] != "running")
    )
    assert [e.split("data: ")[1] for e in events] == [
        '{"status": "running"}\n\n',
        '{"status": "promoted"}\n\n',
    ]
