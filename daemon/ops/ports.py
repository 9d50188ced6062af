"""Whether a loopback port can be listened on: one check for the daemon's start, `cove mcp
--http` and `cove doctor`."""

from __future__ import annotations

import socket

HOST = "127.0.0.1"  # Cove listens on loopback only


def port_taken(port: int, host: str = HOST) -> str | None:
    """Why `port` cannot be listened on (the OS's reason), or None when it can.

    The probe binds as uvicorn does, with SO_REUSEADDR: the connections of a daemon just
    stopped linger in TIME_WAIT and must not make the port look taken (a live listener
    still does)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None
