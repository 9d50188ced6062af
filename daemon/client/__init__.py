"""The one HTTP client of the daemon's API, used by the CLI, the TUI and the MCP server.

Imports only httpx and the standard library, so clients start fast.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx


class DaemonNotRunningError(RuntimeError):
    """No live daemon owns this COVE_HOME."""


class ApiError(RuntimeError):
    """The daemon answered with an error document."""

    def __init__(self, status: int, message: str, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def lock_is_held(lock_path: Path) -> bool:
    """True while some process holds the daemon's lock on this COVE_HOME."""
    try:
        fd = os.open(lock_path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return True
        raise
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def process_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    # A killed process stays a zombie until reaped (by us, or by an init that may not).
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split()[2] != "Z"
    except OSError:
        return True


def daemon_info(home: Path) -> dict | None:
    """daemon.json of the live daemon, or None (no file, a dead pid, or a stale file)."""
    try:
        info = json.loads((home / "daemon.json").read_text())
        pid = int(info["pid"])
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None
    # After kill -9 the leader is a zombie while its other threads still hold the lock
    # for a moment: that daemon is gone, whatever the lock says.
    if not process_alive(pid):
        return None
    return info if lock_is_held(home / "daemon.lock") else None


class CoveClient:
    """Typed calls onto the daemon's API."""

    def __init__(self, base_url: str, token: str, timeout: float = 600.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(timeout, connect=5.0),
            trust_env=False,  # a proxy setting must never route loopback traffic elsewhere
        )

    @classmethod
    def from_home(cls, home: Path, timeout: float = 600.0) -> CoveClient:
        info = daemon_info(home)
        if info is None:
            raise DaemonNotRunningError(f"the Cove daemon is not running (COVE_HOME={home})")
        token = (home / "token").read_text().strip()
        return cls(f"http://127.0.0.1:{info['port']}", token, timeout)

    def on_socket(self, callback: Callable[[socket.socket], None]) -> None:
        """Call `callback` with the socket of each response as it arrives, before its body
        is read: a caller that must end a long stream from another thread shuts it down."""

        def hook(response: httpx.Response) -> None:
            network = response.extensions.get("network_stream")
            sock = network.get_extra_info("socket") if network is not None else None
            if sock is not None:
                callback(sock)

        hooks = self._http.event_hooks
        hooks["response"] = [*hooks.get("response", []), hook]
        self._http.event_hooks = hooks

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CoveClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- plumbing -------------------------------------------------------------------

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise DaemonNotRunningError(
                f"cannot reach the daemon at {self.base_url}: {exc}"
            ) from exc
        _raise_for_error(response)
        return response.json()

    def stream_events(self, path: str, body: dict) -> Iterator[tuple[str, dict | str]]:
        """POST `body` and yield (event, data) pairs from the SSE response."""
        try:
            with self._http.stream("POST", path, json=body) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for_error(response)
                yield from _parse_sse(response.iter_lines())
        except httpx.TransportError as exc:
            raise DaemonNotRunningError(f"lost the daemon at {self.base_url}: {exc}") from exc

    # --- API ------------------------------------------------------------------------

    def status(self) -> dict:
        return self.request("GET", "/api/status")

    def models(self) -> dict:
        return self.request("GET", "/api/models")

    def use_model(self, name: str) -> dict:
        return self.request("POST", "/api/models/use", json={"name": name})

    def ask(self, question: str, **options: Any) -> dict:
        return self.request(
            "POST", "/api/ask", json={"question": question, "stream": False, **options}
        )

    def ask_stream(self, question: str, **options: Any) -> Iterator[tuple[str, dict | str]]:
        """Yield ("token", {"text"}) events, then ("done", result) or ("error", error)."""
        yield from self.stream_events("/api/ask", {"question": question, **options})

    def read_file(
        self, path: str, start_line: int | None = None, end_line: int | None = None
    ) -> dict:
        """Lines of an indexed file under a watched folder (403 for anything else)."""
        params = {"path": path, "start_line": start_line, "end_line": end_line}
        return self.request(
            "GET", "/api/files", params={k: v for k, v in params.items() if v is not None}
        )

    def folders(self) -> dict:
        return self.request("GET", "/api/folders")

    def add_folder(self, path: str, ignore: list[str] | None = None) -> dict:
        return self.request("POST", "/api/folders", json={"path": path, "ignore": ignore or []})

    def remove_folder(self, path: str) -> dict:
        return self.request("DELETE", "/api/folders", params={"path": path})

    def search(self, query: str, **options: Any) -> dict:
        body = {"query": query, **{k: v for k, v in options.items() if v is not None}}
        return self.request("POST", "/api/search", json=body)

    def index_status(self) -> dict:
        return self.request("GET", "/api/index/status")

    def index_errors(self) -> dict:
        return self.request("GET", "/api/index/errors")

    def index_action(self, action: str) -> dict:
        """pause | resume | rescan | rebuild"""
        return self.request("POST", f"/api/index/{action}")

    def get_events(self, path: str) -> Iterator[tuple[str, dict | str]]:
        """GET `path` and yield (event, data) pairs from the SSE response."""
        try:
            with self._http.stream("GET", path) as response:
                if response.status_code >= 400:
                    response.read()
                    _raise_for_error(response)
                yield from _parse_sse(response.iter_lines())
        except httpx.TransportError as exc:
            raise DaemonNotRunningError(f"lost the daemon at {self.base_url}: {exc}") from exc

    def index_events(self) -> Iterator[tuple[str, dict | str]]:
        """("status", index status) whenever it changes, until the connection closes."""
        yield from self.get_events("/api/index/events")

    def train_status(self) -> dict:
        return self.request("GET", "/api/train")

    def train_now(self, steps: int | None = None) -> dict:
        """Start a run; {"run": {...}} (409 while one is in progress)."""
        return self.request("POST", "/api/train", json={"steps": steps})

    def train_cancel(self) -> dict:
        return self.request("POST", "/api/train/cancel")

    def train_run(self, run_id: str) -> dict:
        return self.request("GET", f"/api/train/runs/{_quote(run_id)}")

    def train_events(self, run_id: str) -> Iterator[tuple[str, dict | str]]:
        """("run", the run) whenever it changes; the stream ends when the run has ended."""
        yield from self.get_events(f"/api/train/runs/{_quote(run_id)}/events")

    def set_schedule(self, time: str | None, enabled: bool = True) -> dict:
        return self.request("PUT", "/api/train/schedule", json={"enabled": enabled, "time": time})

    def adapters(self) -> dict:
        return self.request("GET", "/api/adapters")

    def activate_adapter(self, adapter_id: str) -> dict:
        return self.request("POST", f"/api/adapters/{_quote(adapter_id)}/activate")

    def rollback_adapter(self) -> dict:
        return self.request("POST", "/api/adapters/rollback")

    def adapter_to_ollama(
        self, adapter_id: str, name: str | None = None, base: str | None = None
    ) -> dict:
        body = {"name": name, "base": base}
        return self.request("POST", f"/api/adapters/{_quote(adapter_id)}/ollama", json=body)

    def delete_adapter(self, adapter_id: str) -> dict:
        return self.request("DELETE", f"/api/adapters/{_quote(adapter_id)}")

    def teach(self, question: str, answer: str) -> dict:
        return self.request("POST", "/api/teach", json={"question": question, "answer": answer})

    def memories(self) -> dict:
        return self.request("GET", "/api/memories")

    def remember(self, question: str, answer: str) -> dict:
        return self.request("POST", "/api/memories", json={"question": question, "answer": answer})

    def forget_memory(self, memory_id: str) -> dict:
        return self.request("DELETE", f"/api/memories/{_quote(memory_id)}")

    def search_memories(self, query: str, limit: int | None = None) -> dict:
        params = {k: v for k, v in {"q": query, "limit": limit}.items() if v is not None}
        return self.request("GET", "/api/memories/search", params=params)

    def sessions(self, query: str | None = None, limit: int | None = None) -> dict:
        """{"sessions": [...]}, most recent first; `query` searches titles and messages."""
        params = {k: v for k, v in {"q": query, "limit": limit}.items() if v is not None}
        return self.request("GET", "/api/sessions", params=params)

    def session(self, session_id: str) -> dict:
        """{"session", "messages"}: a session with its messages, sources and feedback."""
        return self.request("GET", f"/api/sessions/{_quote(session_id)}")

    def rename_session(self, session_id: str, title: str) -> dict:
        return self.request("PATCH", f"/api/sessions/{_quote(session_id)}", json={"title": title})

    def delete_session(self, session_id: str) -> dict:
        return self.request("DELETE", f"/api/sessions/{_quote(session_id)}")

    def export_session(self, session_id: str, format: str = "md") -> str | dict:
        """Markdown text (format "md") or the session document (format "json")."""
        path = f"/api/sessions/{_quote(session_id)}/export"
        if format == "json":
            return self.request("GET", path, params={"format": "json"})
        try:
            response = self._http.get(path, params={"format": format})
        except httpx.TransportError as exc:
            raise DaemonNotRunningError(
                f"cannot reach the daemon at {self.base_url}: {exc}"
            ) from exc
        _raise_for_error(response)
        return response.text

    def message(self, message_id: str) -> dict:
        return self.request("GET", f"/api/messages/{_quote(message_id)}")

    def set_feedback(
        self, message_id: str, rating: str | None = None, correction: str | None = None
    ) -> dict:
        """Rate an answer ("up"/"down") and/or correct it; None keeps what was stored."""
        body = {
            k: v for k, v in {"rating": rating, "correction": correction}.items() if v is not None
        }
        return self.request("PUT", f"/api/messages/{_quote(message_id)}/feedback", json=body)

    def clear_feedback(self, message_id: str) -> dict:
        return self.request("DELETE", f"/api/messages/{_quote(message_id)}/feedback")

    def chat_completion(self, **body: Any) -> dict:
        return self.request("POST", "/v1/chat/completions", json={**body, "stream": False})


def _quote(segment: str) -> str:
    """An id as one URL path segment (a '/' or '?' in it cannot reach another route)."""
    return quote(segment, safe="")


def _raise_for_error(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        error = response.json().get("error", {})
        raise ApiError(
            response.status_code, error.get("message", response.text), error.get("code", "")
        )
    except (ValueError, AttributeError):
        raise ApiError(response.status_code, response.text) from None


def _parse_sse(lines: Iterator[str]) -> Iterator[tuple[str, dict | str]]:
    event, data = "message", []
    for line in lines:
        if not line:
            if data:
                raw = "\n".join(data)
                try:
                    yield event, json.loads(raw)
                except ValueError:
                    yield event, raw
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())
