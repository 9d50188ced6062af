"""Calls onto the daemon from thread workers, so the event loop never waits on the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar, cast

from textual.dom import DOMNode
from textual.message import Message
from textual.worker import Worker, get_current_worker

from cove.daemon.client import ApiError, CoveClient, DaemonNotRunningError
from cove.tui.connection import describe

if TYPE_CHECKING:
    from cove.tui.app import CoveApp

T = TypeVar("T")


class DaemonLost(Message):
    """The daemon could not be reached (posted to the app, from any thread)."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


def cove_app(node: DOMNode) -> CoveApp:
    return cast("CoveApp", node.app)


def api_worker(
    node: DOMNode,
    fn: Callable[[CoveClient], T],
    then: Callable[[T], object] | None = None,
    *,
    what: str,
    group: str = "api",
    exclusive: bool = False,
) -> Worker[None]:
    """Run `fn(client)` in a thread worker of `node`, then `then(result)` on the event loop.

    When the daemon cannot be reached the app is told (status bar and a notification);
    when it answers with an error, a notification says that `what` failed.
    """
    app = cove_app(node)

    def work() -> None:
        worker = get_current_worker()
        try:
            result = app.connection.call(fn)
        except DaemonNotRunningError as exc:
            app.post_message(DaemonLost(describe(exc)))
            return
        except (ApiError, ValueError) as exc:  # an error answer, or a reply that is not JSON
            if not worker.is_cancelled:
                app.notify(f"{what} failed: {describe(exc)}", severity="error", markup=False)
            return
        # A result for a screen that moved on (cancelled worker) or an app that is closing
        # has nowhere to go.
        if then is not None and not worker.is_cancelled and app.is_running:
            app.call_from_thread(then, result)

    return node.run_worker(work, thread=True, group=group, exclusive=exclusive, name=what)
