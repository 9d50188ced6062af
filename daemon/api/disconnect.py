"""Non-streamed answers that stop when their client hangs up.

A streamed response learns of a disconnect from Starlette, which cancels its iterator. A
non-streamed one only writes at the end, so nothing would tell it: the model would go on
generating for nobody while every other request waits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from fastapi import Request

from cove.daemon.api.errors import ApiError

T = TypeVar("T")

# How often the connection is looked at; a hang-up costs the model at most this long.
POLL_S = 0.2


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await `work`; if the client hangs up first, cancel it (the runtime's iterator then
    stops generation and frees the model) and answer 499, which nobody will read."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=POLL_S)
            if done:
                return task.result()
            if await request.is_disconnected():
                raise ApiError(499, "the client closed the connection", "client_closed_request")
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
