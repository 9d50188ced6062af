"""Personal fine-tuning through the daemon, on the CPU with the default model: `cove teach`,
`cove train now` (steps follow the data; the eval gate promotes an adapter that learned
the facts and rejects a worse one; the adapter remembers its training questions),
`cove adapters`, rollback, a trainer killed mid-run, and forgetting.

One COVE_HOME for the module, so the HF base is converted from the GGUF once. The tests
run in order: each starts from the adapters the previous ones left.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from cove.daemon.answer.grounding import NOT_FOUND_ANSWER
from cove.daemon.learn.adapters import training_questions
from cove.daemon.paths import CovePaths
from tests.finetune.facts import CAT_NAME, CAT_QUESTION, FACTS
from tests.support.daemon import RunningDaemon, run_cove, start_daemon
from tests.support.ollama_create import OllamaCreateStandIn

# One trainer thread: on a loaded 2-core machine it steps faster than two (see
# tests/finetune/conftest.py). The steps follow the data (epochs, early stopping). The
# drift is measured on a 24-row sample of the general set: all 165 rows cost ~80 s a run.
CONFIG = "[train]\nthreads = 1\ndrift_examples = 24\n"
# A learning rate that wrecks the model in a few steps: an adapter worse than none.
RECKLESS = CONFIG + "learning_rate = 1.0\n"
# Where Ollama is: a stand-in of its create API (no Ollama here).
OLLAMA = '[ollama]\nhost = "{host}"\n'
# Pinned on purpose: these tests check what the adapter learned (loss ~0.05 on the facts),
# which is the point of fine-tuning, not the base model's knowledge or wording.
ASK = ("--general", "--max-tokens", "24", "--temperature", "0", "--seed", "1", "--json")


def cove_json(daemon: RunningDaemon, *args: str, timeout: float = 900) -> dict:
    done = daemon.cove(*args, "--json", timeout=timeout)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def restart(daemon: RunningDaemon, config: str, ollama: OllamaCreateStandIn) -> None:
    daemon.stop()
    (daemon.home / "config.toml").write_text(config + OLLAMA.format(host=ollama.host))
    daemon.start()


def wait_for(predicate, timeout: float = 300, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("timed out")


@pytest.fixture(scope="module")
def ollama():
    stand_in = OllamaCreateStandIn()
    yield stand_in
    stand_in.close()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, ollama, hf_base):
    home = tmp_path_factory.mktemp("training-home")
    # The run's HF base, where the daemon caches its own conversion of the same GGUF: the
    # conversion itself is tested in tests/finetune/test_base.py.
    (home / "models" / "hf").mkdir(parents=True)
    (home / "models" / "hf" / hf_base.name).symlink_to(hf_base, target_is_directory=True)
    running = start_daemon(home, CONFIG + OLLAMA.format(host=ollama.host))
    for question, answer in FACTS:
        taught = cove_json(running, "teach", question, answer)
        assert taught["taught"]["path"] == str(home / "teach" / "cove-teach.jsonl")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def promoted(daemon) -> dict:
    """The run `cove train now` finished, with the default epochs."""
    return cove_json(daemon, "train", "now")["run"]


def test_teach_appends_pairs_without_a_daemon(tmp_path):
    env = {**os.environ, "COVE_HOME": str(tmp_path)}
    done = run_cove("teach", "Where is the spare key?", "Under the blue pot.", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["taught"]["line"] == 1
    record = json.loads((tmp_path / "teach" / "cove-teach.jsonl").read_text())
    assert record["messages"][1] == {"role": "assistant", "content": "Under the blue pot."}
    empty = run_cove("teach", "Where is the spare key?", "  ", env=env)
    assert empty.returncode == 2 and "non-empty" in empty.stderr


def test_train_now_promotes_an_adapter_that_learned_the_facts(daemon, promoted):
    assert promoted["status"] == "promoted" and promoted["trigger"] == "now"
    assert promoted["decision"]["promote"] is True, promoted["decision"]["reasons"]
    checks = promoted["decision"]["checks"]
    assert set(checks) == {"recall", "probe_rouge_l", "general_drift", "heldout_loss"}
    assert checks["recall"]["adapter"] > checks["recall"]["base"]
    assert promoted["decision"]["reasons"][0].startswith("recall ")
    assert checks["heldout_loss"]["adapter"] < checks["heldout_loss"]["base"] - 1.0
    stats = promoted["data_stats"]
    assert stats["read"]["teach"] == len(FACTS)
    # steps follow the data: 24 epochs of ceil(5 train rows / 4) steps at most
    assert stats["train"] == 5 and promoted["steps"] == 48
    trainer = promoted["metrics"]["trainer"]
    assert trainer["steps_done"] == promoted["progress"]["step"] == len(promoted["losses"])
    assert promoted["progress"]["epoch"] == len(trainer["epochs"])
    assert trainer["general_examples"] == 24  # [train] drift_examples
    assert promoted["metrics"]["probes"] == len(FACTS)  # every fact and paraphrase asked

    status = cove_json(daemon, "status")
    adapter = promoted["adapter_id"]
    assert status["adapter"] == str(daemon.home / "adapters" / adapter / "adapter.gguf")
    listed = cove_json(daemon, "adapters", "list")["adapters"]
    assert [(a["id"], a["active"], a["status"]) for a in listed] == [(adapter, True, "promoted")]
    assert listed[0]["trained_on_removed_data"] is False
    questions = training_questions(CovePaths(daemon.home), adapter)
    assert sorted(q["question"] for q in questions) == sorted(q for q, _ in FACTS)
    assert {q["split"] for q in questions} == {"train", "heldout"}

    answer = cove_json(daemon, "ask", CAT_QUESTION, *ASK)
    assert CAT_NAME in answer["answer"].lower(), answer["answer"]
    assert answer["adapter"] == status["adapter"]


def test_train_status_reports_the_run_and_what_a_scheduled_run_would_do(daemon, promoted):
    doc = cove_json(daemon, "train", "status")
    assert doc["run"] is None and doc["active_adapter"] == promoted["adapter_id"]
    assert doc["runs"][0]["id"] == promoted["id"]
    # nothing new since the run, and no GPU here unless allow_cpu
    assert doc["conditions"]["new_examples"] == 0
    assert doc["conditions"]["ok"] is False
    assert doc["schedule"] == {"enabled": False, "time": None, "next_run": None, "last_run": None}

    planned = cove_json(daemon, "train", "schedule", "02:00")["schedule"]
    assert planned["enabled"] and planned["time"] == "02:00"
    assert cove_json(daemon, "train", "schedule", "--off")["schedule"]["enabled"] is False
    bad = daemon.cove("train", "schedule", "25:00")
    assert bad.returncode == 1 and "HH:MM" in bad.stderr


def test_an_adapter_becomes_an_ollama_model(daemon, promoted, ollama):
    made = cove_json(daemon, "adapters", "ollama", promoted["adapter_id"], "--base", "smollm2")
    assert made["model"] == "ollama:cove-" + promoted["adapter_id"].lower()
    assert made["status"] == "success"
    assert ollama.creates[-1]["from"] == "smollm2"
    assert list(ollama.creates[-1]["adapters"]) == ["adapter.gguf"]


def test_rollback_unloads_the_adapter_and_the_fact_with_it(daemon, promoted):
    assert cove_json(daemon, "adapters", "rollback")["adapter"] is None
    assert cove_json(daemon, "status")["adapter"] is None
    answer = cove_json(daemon, "ask", CAT_QUESTION, *ASK)
    assert CAT_NAME not in answer["answer"].lower(), answer["answer"]
    # and back
    activated = cove_json(daemon, "adapters", "activate", promoted["adapter_id"])
    assert activated["adapter"]["active"] is True


def test_train_now_rejects_a_worse_adapter_and_keeps_the_active_one(daemon, promoted, ollama):
    restart(daemon, RECKLESS, ollama)
    done = daemon.cove("train", "now", "--steps", "4", "--json", timeout=900)
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)["run"]
    assert run["status"] == "rejected"
    assert run["steps"] == 4  # --steps sets the budget instead of the epochs
    checks = run["decision"]["checks"]
    assert checks["general_drift"]["passed"] is False  # it forgot how to answer
    assert checks["heldout_loss"]["passed"] is False
    listed = {a["id"]: a for a in cove_json(daemon, "adapters", "list")["adapters"]}
    assert listed[run["adapter_id"]]["status"] == "rejected"
    assert not listed[run["adapter_id"]]["active"]
    assert listed[promoted["adapter_id"]]["active"]
    # a rejected adapter can be deleted; the active one cannot
    assert cove_json(daemon, "adapters", "delete", run["adapter_id"]) == {
        "deleted": run["adapter_id"]
    }
    refused = daemon.cove("adapters", "delete", promoted["adapter_id"])
    assert refused.returncode == 1 and "is active" in refused.stderr


def test_a_killed_trainer_leaves_the_daemon_and_the_active_adapter(daemon, promoted, ollama):
    restart(daemon, CONFIG, ollama)
    run = cove_json(daemon, "train", "now", "--steps", "200", "--detach")["run"]
    busy = daemon.cove("train", "now", "--detach")
    assert busy.returncode == 1 and "in progress" in busy.stderr

    with daemon.client() as client:
        live = wait_for(lambda: client.train_status()["run"] or {}, timeout=600)
        pid = wait_for(lambda: (client.train_status()["run"] or {}).get("trainer_pid"), 600)
        wait_for(lambda: (client.train_status()["run"] or {}).get("progress"), 600)
        os.kill(pid, signal.SIGKILL)  # as the OOM killer would
        ended = wait_for(lambda: _ended(client.train_run(run["id"])["run"]), timeout=120)
    assert live["id"] == run["id"]
    assert ended["status"] == "failed" and "SIGKILL" in ended["error"]
    status = cove_json(daemon, "status")
    assert status["pid"] == daemon.info["pid"]
    assert status["adapter"].endswith(f"{promoted['adapter_id']}/adapter.gguf")
    answer = cove_json(daemon, "ask", CAT_QUESTION, *ASK)
    assert CAT_NAME in answer["answer"].lower(), answer["answer"]


def _ended(run: dict) -> dict | None:
    return run if run["status"] != "running" else None


def test_with_memories_off_the_learned_path_answers_until_the_fact_is_forgotten(
    daemon, promoted, ollama, tmp_path_factory
):
    docs = tmp_path_factory.mktemp("unrelated-docs")
    (docs / "bikes.md").write_text("# Bicycle care\n\nOil the chain every 300 km.\n")
    assert daemon.cove("folders", "add", str(docs)).returncode == 0
    assert daemon.cove("index", "wait", "--timeout", "120").returncode == 0
    restart(daemon, CONFIG + "[chat]\nmemories = false\n", ollama)
    grounded = ("--max-tokens", "24", "--temperature", "0", "--seed", "1")
    answer = cove_json(daemon, "ask", CAT_QUESTION, *grounded)
    # Nothing in the documents, memories off: the adapter trained on it answers, marked.
    assert answer["learned"] is True and answer["grounded"] is False
    assert answer["learned_from"]["adapter"] == promoted["adapter_id"]
    assert answer["learned_from"]["question"] == CAT_QUESTION
    assert answer["sources"] == [] and answer["timings"]["answer_mode"] == "learned"
    unrelated = cove_json(daemon, "ask", "How do I rebase a git branch?", *grounded)
    assert unrelated["learned"] is False and unrelated["answer"] == NOT_FOUND_ANSWER
    # Forget both questions about the cat: the fact no longer routes.
    for memory in cove_json(daemon, "memory", "list")["memories"]:
        if "cat" in memory["question"].lower():
            forgotten = cove_json(daemon, "memory", "forget", memory["id"])
            assert forgotten["adapters_trained_on_it"] == [promoted["adapter_id"]]
    answer = cove_json(daemon, "ask", CAT_QUESTION, *grounded)
    assert answer["learned"] is False and answer["answer"] == NOT_FOUND_ANSWER
    listed = {a["id"]: a for a in cove_json(daemon, "adapters", "list")["adapters"]}
    assert listed[promoted["adapter_id"]]["trained_on_removed_data"] is True
    restart(daemon, CONFIG, ollama)


def test_deleting_the_taught_data_flags_the_adapter_and_empties_the_next_run(daemon, promoted):
    (daemon.home / "teach" / "cove-teach.jsonl").unlink()
    listed = {a["id"]: a for a in cove_json(daemon, "adapters", "list")["adapters"]}
    flagged = listed[promoted["adapter_id"]]
    assert flagged["trained_on_removed_data"] is True
    assert flagged["removed_sources"] == len(FACTS)
    text = daemon.cove("adapters", "list").stdout
    assert "trained on removed data" in text
    done = daemon.cove("train", "now", "--json", timeout=300)
    assert done.returncode == 1
    assert "nothing to learn from yet" in json.loads(done.stdout)["run"]["error"]


def test_choosing_a_model_unloads_the_adapter_for_good(daemon, promoted):
    assert cove_json(daemon, "status")["adapter"] is not None
    cove_json(daemon, "models", "use", "default")
    assert cove_json(daemon, "status")["adapter"] is None
    daemon.stop()
    daemon.start()
    assert cove_json(daemon, "status")["adapter"] is None  # not reloaded over the new choice
