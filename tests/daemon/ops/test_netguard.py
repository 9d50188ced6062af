"""The offline guard refuses and logs connections beyond loopback, in-process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from cove.daemon.ops.netguard import is_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "localhost", "[::1]"])
def test_loopback_hosts(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["10.0.0.1", "192.168.1.1", "8.8.8.8", "pypi.org", "::2"])
def test_other_hosts(host):
    assert not is_loopback(host)


def test_guard_blocks_and_logs_outside_connections_but_not_loopback(tmp_path):
    # Audit hooks cannot be removed, so the guard is exercised in a child interpreter.
    log = tmp_path / "network.log"
    script = textwrap.dedent(f"""
        import socket
        from pathlib import Path
        from cove.daemon.ops.netguard import NetworkGuard
        guard = NetworkGuard(Path({str(log)!r}), block=True, allow_hosts=[])
        guard.install()
        server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen()
        socket.create_connection(server.getsockname(), timeout=2).close()
        for target in [("10.255.255.1", 80), ("example.invalid", 80)]:
            try:
                socket.create_connection(target, timeout=0.5)
            except PermissionError as exc:
                print("refused", exc)
        print("violations", guard.violations)
    """)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("refused Cove is offline") == 2
    assert "violations 2" in done.stdout
    logged = log.read_text()
    assert "10.255.255.1" in logged and "example.invalid" in logged
    assert "127.0.0.1" not in logged
