"""Finding the live daemon from a client: daemon.json, its pid and the COVE_HOME lock."""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from cove.daemon.client import daemon_info, process_alive


def test_a_killed_daemon_is_gone_even_while_its_lock_is_still_held(tmp_path):
    # kill -9 leaves the leader a zombie while its other threads let go of the lock: a
    # `cove start` in that moment must start a new daemon, not report the dead one.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "daemon.json").write_text(json.dumps({"pid": child.pid, "port": 1}))
        lock = os.open(tmp_path / "daemon.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert daemon_info(tmp_path)["pid"] == child.pid  # alive and locked: running

        os.kill(child.pid, signal.SIGKILL)
        stat = Path(f"/proc/{child.pid}/stat")
        while stat.read_text().split()[2] != "Z":
            pass  # not reaped: a zombie, as under an init that never waits
        assert not process_alive(child.pid)
        assert daemon_info(tmp_path) is None
        os.close(lock)
    finally:
        child.kill()
        child.wait()


def test_no_daemon_json_or_a_broken_one_means_not_running(tmp_path):
    assert daemon_info(tmp_path) is None
    (tmp_path / "daemon.json").write_text("{not json")
    assert daemon_info(tmp_path) is None
    (tmp_path / "daemon.json").write_text(json.dumps({"port": 1}))
    assert daemon_info(tmp_path) is None


def test_on_socket_hands_over_each_response_s_socket():
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from cove.daemon.client import CoveClient

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        sockets = []
        with CoveClient(f"http://127.0.0.1:{server.server_address[1]}", "token") as client:
            client.on_socket(sockets.append)
            assert client.request("GET", "/api/status") == {}
        assert len(sockets) == 1 and isinstance(sockets[0], socket.socket)
    finally:
        server.shutdown()
        server.server_close()
