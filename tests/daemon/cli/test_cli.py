"""The `cove` command line: exit codes, `--json` on read commands, help for every command."""

from __future__ import annotations

import json

import pytest

from tests.support.daemon import cove_env, free_port, run_cove
from tests.support.generation import sampling_args


@pytest.fixture
def stopped_env(tmp_path):
    return cove_env(tmp_path / "home", free_port())


def test_help_lists_every_command(stopped_env):
    done = run_cove("--help", env=stopped_env)
    assert done.returncode == 0
    for command in ("serve", "start", "stop", "status", "ask", "models", "service", "doctor"):
        assert f"  {command}" in done.stdout
    assert "Exit codes: 0 ok, 1 error, 2 usage, 3 daemon not running" in done.stdout


@pytest.mark.parametrize(
    "args",
    [["nope"], ["ask", "--temperature", "hot", "q"], ["models", "use"], ["status", "--bogus"]],
)
def test_usage_errors_exit_2(stopped_env, args):
    assert run_cove(*args, env=stopped_env).returncode == 2


def test_commands_that_need_a_daemon_exit_3_when_none_runs(stopped_env):
    done = run_cove("status", "--json", env=stopped_env)
    assert done.returncode == 3
    assert done.stdout == ""
    assert "cove start" in done.stderr


def test_ask_json_after_the_question(daemon):
    done = daemon.cove(
        "ask",
        "What is the capital of France?",
        "--json",
        *sampling_args(),
        "--max-tokens",
        "24",
    )
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert set(doc) == {
        "answer",
        "grounded",
        "session_id",
        "message_id",
        "sources",
        "claims",
        "learned",
        "model",
        "adapter",
        "timings",
    }
    assert doc["answer"].strip() and doc["grounded"] is False
    assert doc["model"] == "smollm2-135m-instruct"
    assert doc["timings"]["completion_tokens"] > 0


def test_ask_streams_text_and_continues_a_session(daemon):
    first = json.loads(daemon.cove("ask", "Hello!", "--json", "--max-tokens", "8").stdout)
    done = daemon.cove(
        "ask",
        "What is the capital of France?",
        "--session",
        first["session_id"],
        *sampling_args(),
        "--max-tokens",
        "24",
    )
    assert done.returncode == 0, done.stderr
    assert "general knowledge" in done.stderr
    # what was streamed to the terminal is the answer the session kept
    with daemon.client() as client:
        turns = client.session(first["session_id"])["messages"]
    assert [t["role"] for t in turns] == ["user", "assistant"] * 2
    assert turns[2]["content"] == "What is the capital of France?"
    assert done.stdout.strip() == turns[3]["content"].strip()


def test_ask_with_an_unknown_session_exits_1(daemon):
    done = daemon.cove("ask", "hi", "--session", "s_missing")
    assert done.returncode == 1
    assert "no session" in done.stderr


def test_interactive_ask_keeps_one_session(daemon):
    done = daemon.cove("ask", "--max-tokens", "8", input="Hello!\nAnd again?\n\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("cove> ") == 2


def test_models_list_marks_the_current_model(daemon):
    doc = json.loads(daemon.cove("models", "list", "--json").stdout)
    assert doc["current"] == "smollm2-135m-instruct"
    current = [m for m in doc["models"] if m["current"]]
    assert [m["name"] for m in current] == ["smollm2-135m-instruct"]
    assert current[0]["path"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    human = daemon.cove("models", "list")
    assert "* smollm2-135m-instruct" in human.stdout


def test_models_use_switches_and_a_bad_name_keeps_the_current_one(daemon, default_gguf):
    bad = daemon.cove("models", "use", "/nowhere/missing.gguf", "--json")
    assert bad.returncode == 1 and "not found" in bad.stderr
    assert json.loads(daemon.cove("status", "--json").stdout)["model"] == "smollm2-135m-instruct"

    switched = daemon.cove("models", "use", str(default_gguf), "--json")
    assert switched.returncode == 0, switched.stderr
    assert json.loads(switched.stdout)["current"] == "SmolLM2-135M-Instruct.Q4_1"
    back = daemon.cove("models", "use", "default", "--json")
    assert json.loads(back.stdout)["current"] == "smollm2-135m-instruct"


def test_doctor_passes_on_a_working_install(daemon):
    done = daemon.cove("doctor", "--json")
    assert done.returncode == 0, done.stdout
    checks = {c["name"]: c for c in json.loads(done.stdout)["checks"]}
    assert {"chat model", "llama.cpp", "embeddings", "port", "token", "database"} <= set(checks)
    assert all(c["ok"] for c in checks.values())


def test_doctor_says_what_to_fix(stopped_env, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "token").write_text("secret\n")
    (home / "token").chmod(0o644)
    done = run_cove("doctor", env=stopped_env)
    assert done.returncode == 1
    assert "FAIL" in done.stdout and f"chmod 600 {home / 'token'}" in done.stdout
    assert "loaded smollm2-135m-instruct" in done.stdout  # llama.cpp really loaded the model
