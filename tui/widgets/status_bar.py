"""The line at the top of every screen: which screen, and the daemon's state."""

from __future__ import annotations

from textual.widgets import Static


def status_text(daemon: str, status: dict | None) -> str:
    """'up · model · adapter · index' for a reachable daemon, or why it is not."""
    if daemon == "unknown":
        return "connecting to the daemon…"
    if daemon == "down" or status is None:
        return "daemon down: retrying (start it with `cove start`)"
    adapter = status.get("adapter") or "no adapter"
    return f"up · {status.get('model')} · {adapter} · {index_text(status)}"


def index_text(status: dict) -> str:
    index = status.get("index") or {}
    files, state = index.get("files", 0), index.get("state", "?")
    text = f"index {state} · {files} file{'s' if files != 1 else ''}"
    if index.get("queued"):
        text += f", {index['queued']} queued"
    if index.get("failed"):
        text += f", {index['failed']} failed"
    return text


class StatusBar(Static):
    """Follows the app's `daemon` and `status` reactives (polled by the app)."""

    def __init__(self, title: str) -> None:
        super().__init__(markup=False)
        self.screen_title = title

    def on_mount(self) -> None:
        self.watch(self.app, "daemon", self._refresh_text)
        self.watch(self.app, "status", self._refresh_text)

    def _refresh_text(self, _value: object = None) -> None:
        daemon = getattr(self.app, "daemon", "unknown")
        self.set_class(daemon == "down", "-down")
        self.set_class(daemon == "up", "-up")
        mark = {"up": "●", "down": "✗"}.get(daemon, "○")
        self.update(f"{self.screen_title}  {mark} " + status_text(daemon, self.app.status))
