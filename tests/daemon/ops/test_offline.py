"""Offline, proven: through start, a question and stop, the daemon connects only to loopback.

The audit is independent of Cove's own guard: a `sitecustomize` module installs a
`sys.addaudithook` in every Python process started with it on PYTHONPATH, recording each
`socket.connect` and name lookup without blocking anything.
"""

from __future__ import annotations

import json
import os
import textwrap

import pytest

from cove.daemon.ops.netguard import is_loopback
from tests.support.daemon import cove_env, free_port, run_cove

pytestmark = pytest.mark.slow  # real daemon processes (make test-fast skips them)

AUDIT = textwrap.dedent("""
    import os, sys, json
    _log = os.environ["COVE_TEST_AUDIT_LOG"]
    def _hook(event, args):
        if event == "socket.connect":
            address = args[1]
            host = address[0] if isinstance(address, tuple) else "unix"
        elif event == "socket.getaddrinfo":
            host = args[0].decode() if isinstance(args[0], bytes) else str(args[0] or "localhost")
        else:
            return
        with open(_log, "a") as f:
            f.write(json.dumps({"pid": os.getpid(), "event": event, "host": host}) + "\\n")
    sys.addaudithook(_hook)
""")


def test_start_ask_stop_opens_no_connection_outside_loopback(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(AUDIT)
    log = tmp_path / "audit.jsonl"
    home = tmp_path / "home"
    env = cove_env(
        home,
        free_port(),
        COVE_TEST_AUDIT_LOG=str(log),
        PYTHONPATH=os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])),
    )
    try:
        assert run_cove("start", env=env).returncode == 0
        asked = run_cove("ask", "Say hello.", "--json", "--max-tokens", "8", env=env)
        assert asked.returncode == 0, asked.stderr
        embedded = run_cove("doctor", "--json", env=env)
        assert json.loads(embedded.stdout)["ok"] is True, embedded.stdout
    finally:
        assert run_cove("stop", env=env).returncode == 0
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(r["event"] == "socket.connect" for r in records)  # the audit did see traffic
    outside = [r for r in records if r["host"] != "unix" and not is_loopback(r["host"])]
    assert outside == [], f"non-loopback network access: {outside}"
    assert not (home / "logs" / "network.log").exists()
