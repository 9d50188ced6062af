"""How the TUI reaches the daemon: CoveClients from a factory, re-created after a failure,
and long streams (answers, index events) that any thread can cut at once."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import TypeVar

from cove.daemon.client import CoveClient, DaemonNotRunningError

T = TypeVar("T")
ClientFactory = Callable[[], CoveClient]


class Stream:
    """A dedicated client for one long response, which another thread may cut.

    Closing a socket from another thread does not wake a thread blocked reading it (on
    Linux), so `cut()` shuts the socket down instead: the reader sees the end of the
    stream at once and the daemon sees the disconnect (which cancels a generation).
    CoveClient.on_socket hands over each response's socket.
    """

    def __init__(self, client: CoveClient) -> None:
        self.client = client
        self.cut_requested = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        client.on_socket(self._remember_socket)

    def _remember_socket(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            cut = self.cut_requested
        if cut:
            _shutdown(sock)

    def cut(self) -> None:
        """End the stream now, from any thread."""
        with self._lock:
            self.cut_requested = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)

    def close(self) -> None:
        self.client.close()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed: nothing left to cut
        sock.shutdown(socket.SHUT_RDWR)


class Connection:
    """One shared client for short calls, plus dedicated clients for streams.

    A client is made by the factory when first needed and dropped when the daemon cannot
    be reached, so the next call makes a new one: a restarted daemon (maybe on another
    port, with another token) is found again without restarting the TUI.
    """

    def __init__(self, factory: ClientFactory) -> None:
        self._factory = factory
        self._client: CoveClient | None = None
        self._streams: set[Stream] = set()
        self._lock = threading.Lock()
        self._closed = False

    def call(self, fn: Callable[[CoveClient], T]) -> T:
        """Run `fn(client)`; raises DaemonNotRunningError (and drops the client) if the
        daemon cannot be reached, ApiError if it answered with an error."""
        client = self._shared()
        try:
            return fn(client)
        except DaemonNotRunningError:
            self._drop(client)
            raise

    def open_stream(self) -> Stream:
        """A new client for one stream; close it with `close_stream`."""
        if self._closed:
            raise DaemonNotRunningError("the TUI is closing")
        stream = Stream(self._factory())
        with self._lock:
            self._streams.add(stream)
        return stream

    def close_stream(self, stream: Stream) -> None:
        with self._lock:
            self._streams.discard(stream)
        stream.close()

    def close(self) -> None:
        """Cut every open stream and close the shared client (the TUI is exiting)."""
        with self._lock:
            self._closed = True
            streams, self._streams = list(self._streams), set()
            client, self._client = self._client, None
        for stream in streams:
            stream.cut()
        if client is not None:
            client.close()

    def _shared(self) -> CoveClient:
        with self._lock:
            if self._closed:
                raise DaemonNotRunningError("the TUI is closing")
            if self._client is None:
                self._client = self._factory()
            return self._client

    def _drop(self, client: CoveClient) -> None:
        with self._lock:
            if self._client is client:
                self._client = None
        client.close()


def describe(exc: BaseException) -> str:
    """A one-line reason for a notification."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
