"""The offline guard: the daemon never opens a connection beyond loopback.

A `sys.addaudithook` sees every `socket.connect` and name lookup in the process, whichever
library makes it. Non-loopback attempts are logged to logs/network.log and, with
`daemon.offline = true` (the default), refused. Hosts the user configured on purpose
(a remote Ollama or Chroma server) can be allowed by name.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import sys
import threading
import time
from pathlib import Path

log = logging.getLogger("cove.netguard")

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def is_loopback(host: str) -> bool:
    """True for loopback names and addresses (127.0.0.0/8, ::1)."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


class NetworkGuard:
    """Records (and optionally blocks) connections outside loopback."""

    def __init__(self, log_path: Path, block: bool, allow_hosts: list[str]) -> None:
        self.log_path = log_path
        self.block = block
        self.allow = {h.lower() for h in allow_hosts}
        self.violations = 0
        self._lock = threading.Lock()
        self._inside = threading.local()

    def install(self) -> None:
        sys.addaudithook(self._hook)

    def _allowed(self, host: str) -> bool:
        return is_loopback(host) or host.lower() in self.allow

    def _hook(self, event: str, args: tuple) -> None:
        if event == "socket.connect":
            sock, address = args
            if sock.family not in (socket.AF_INET, socket.AF_INET6):
                return  # unix sockets stay on this machine
            host = str(address[0])
        elif event == "socket.getaddrinfo":
            host = str(args[0]) if args[0] is not None else "localhost"
            if isinstance(args[0], bytes):
                host = args[0].decode(errors="replace")
        else:
            return
        if self._allowed(host) or getattr(self._inside, "active", False):
            return
        self._inside.active = True  # logging itself must not re-enter the hook
        try:
            self._record(event, host)
        finally:
            self._inside.active = False
        if self.block:
            raise PermissionError(f"Cove is offline: connection to {host} refused (network.log)")

    def _record(self, event: str, host: str) -> None:
        with self._lock:
            self.violations += 1
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
            with self.log_path.open("a", encoding="utf-8") as handle:
                handle.write(f"{stamp} {event} {host} blocked={self.block}\n")
        log.warning("non-loopback network access to %s (%s)", host, event)
