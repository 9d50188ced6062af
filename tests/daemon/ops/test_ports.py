"""One port check for the daemon, `cove mcp --http` and `cove doctor`."""

from __future__ import annotations

import socket

from cove.daemon.ops.ports import port_taken


def test_a_listener_takes_the_port():
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        assert port_taken(squatter.getsockname()[1])


def test_a_port_in_time_wait_is_free():
    # A daemon just stopped: its side closed first, so its connection lingers in TIME_WAIT.
    # uvicorn listens with SO_REUSEADDR (which the lingering connection keeps), so a probe
    # binding with it too finds the port free; a probe without it would call it taken.
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        served, _ = listener.accept()
        served.close()
    client.close()
    assert port_taken(port) is None
