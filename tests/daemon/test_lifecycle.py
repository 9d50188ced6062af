"""Starting, stopping and finding the daemon: one instance per COVE_HOME, stale files handled."""

from __future__ import annotations

import json
import socket

import pytest

from tests.support.daemon import cove_env, free_port, run_cove
from tests.support.generation import sampling_args

pytestmark = pytest.mark.slow  # real daemon processes (make test-fast skips them)

EXIT_NOT_RUNNING = 3


@pytest.fixture
def home_env(tmp_path):
    home = tmp_path / "home"
    return home, cove_env(home, free_port())


def test_ask_starts_the_daemon_then_stop_stops_it(home_env):
    home, env = home_env
    asked = run_cove(
        "ask",
        "What is the capital of France?",
        "--json",
        *sampling_args(),
        "--max-tokens",
        "24",
        env=env,
    )
    assert asked.returncode == 0, asked.stderr
    assert "Starting the Cove daemon" in asked.stderr
    doc = json.loads(asked.stdout)
    assert doc["answer"].strip() and doc["grounded"] is False

    again = run_cove("start", "--json", env=env)
    assert again.returncode == 0 and json.loads(again.stdout)["already_running"] is True

    stopped = run_cove("stop", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert not (home / "daemon.json").exists()
    assert run_cove("status", env=env).returncode == EXIT_NOT_RUNNING
    assert run_cove("stop", env=env).returncode == EXIT_NOT_RUNNING


def test_a_stale_daemon_json_is_ignored_and_replaced(home_env):
    home, env = home_env
    home.mkdir()
    (home / "daemon.json").write_text(
        json.dumps({"pid": 2**22 + 12345, "port": 1, "started_at": 0, "version": "0"})
    )
    status = run_cove("status", "--json", env=env)
    assert status.returncode == EXIT_NOT_RUNNING
    assert "not running" in status.stderr
    started = run_cove("start", "--json", env=env)
    try:
        assert started.returncode == 0, started.stderr
        info = json.loads((home / "daemon.json").read_text())
        assert info["pid"] == json.loads(started.stdout)["pid"] != 2**22 + 12345
    finally:
        run_cove("stop", env=env)


def test_a_busy_port_is_a_clear_error(home_env):
    home, env = home_env
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(env["COVE_PORT"])))
        squatter.listen()
        done = run_cove("start", "--timeout", "60", env=env)
    assert done.returncode == 1
    assert f"port {env['COVE_PORT']}" in done.stderr and "in use" in done.stderr


def test_an_invalid_config_names_the_key(home_env):
    home, env = home_env
    home.mkdir()
    (home / "config.toml").write_text("[model]\ncontext = 'big'\n")
    for command in (["start"], ["status"], ["doctor"]):
        done = run_cove(*command, env=env)
        assert done.returncode == 1, command
        assert "'model.context'" in done.stderr
