"""The adapter registry: a broken adapter file is refused and the adapter in use stays;
the active adapter cannot be deleted; rollback needs something to roll back."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cove.daemon.config import load_config
from cove.daemon.learn import adapters
from cove.daemon.runtime import Runtime
from cove.daemon.runtime.llamacpp import LlamaCppBackend
from cove.daemon.runtime.models import DEFAULT_MODEL_ID
from cove.daemon.store import open_db, set_setting
from tests.support.ollama_create import OllamaCreateStandIn


@pytest.fixture()
def home(tmp_path, default_gguf):
    config = load_config(tmp_path, environ={})
    db = open_db(config.paths.db)
    runtime = Runtime(LlamaCppBackend(default_gguf, DEFAULT_MODEL_ID, context=512, threads=1))
    yield config, db, runtime
    runtime.close()


def broken_adapter(config, db, name: str = "a_broken") -> dict:
    folder = config.paths.home / "adapters" / name
    folder.mkdir(parents=True)
    (folder / "adapter.gguf").write_bytes(b"GGUF this is not an adapter")
    return adapters.register(
        db,
        adapter_id=name,
        run_id=None,
        path=folder / "adapter.gguf",
        base_model=DEFAULT_MODEL_ID,
        status="promoted",
        metrics={"eval_loss": 1.0},
        data_stats={"examples": 3},
        provenance=[],
    )


def test_a_broken_adapter_is_refused_and_the_model_keeps_running_without_it(home):
    config, db, runtime = home
    before = runtime.backend
    broken_adapter(config, db)
    with pytest.raises(adapters.AdapterError, match="refused, the one in use stays"):
        adapters.activate(db, runtime, config, "a_broken")
    assert runtime.backend is before and runtime.backend.adapter is None
    assert adapters.active_path(db) is None
    assert [a["active"] for a in adapters.list_adapters(db)] == [False]


def test_an_adapter_for_another_model_is_refused(home):
    config, db, runtime = home
    adapter = broken_adapter(config, db)
    db.execute("UPDATE adapters SET base_model = 'llama-3-8b' WHERE id = ?", [adapter["id"]])
    with pytest.raises(adapters.AdapterError, match="trained for llama-3-8b"):
        adapters.activate(db, runtime, config, adapter["id"])


def test_the_active_adapter_cannot_be_deleted_but_others_can(home):
    config, db, runtime = home
    active = broken_adapter(config, db, "a_active")
    other = broken_adapter(config, db, "a_other")
    set_setting(db, "adapter", active["path"])
    with pytest.raises(adapters.AdapterError, match="is active"):
        adapters.delete(db, "a_active")
    assert adapters.delete(db, "a_other") == {"deleted": "a_other"}
    assert not (config.paths.home / "adapters" / "a_other").exists()
    assert [a["id"] for a in adapters.list_adapters(db)] == ["a_active"]
    assert other["id"] == "a_other"


def test_rollback_with_nothing_active_says_so(home):
    config, db, runtime = home
    with pytest.raises(adapters.AdapterError, match="nothing to roll back"):
        adapters.rollback(db, runtime, config)


def test_an_unknown_adapter_is_named(home):
    config, db, runtime = home
    with pytest.raises(adapters.AdapterNotFoundError, match="a_nope"):
        adapters.activate(db, runtime, config, "a_nope")


def test_an_adapter_becomes_an_ollama_model_over_its_own_base(tmp_path):
    # The adapter was trained for a GGUF in COVE_HOME/models: that file is the base.
    stand_in = OllamaCreateStandIn()
    try:
        home = tmp_path / "home"
        (home / "models").mkdir(parents=True)
        (home / "models" / "tiny.gguf").write_bytes(b"GGUF base")
        (home / "config.toml").write_text(f'[ollama]\nhost = "{stand_in.host}"\n')
        config = load_config(home, environ={})
        db = open_db(config.paths.db)
        adapter = broken_adapter(config, db, "a_20261123-ABC_1")
        db["adapters"].update(adapter["id"], {"base_model": "tiny"})

        made = adapters.to_ollama(db, config, adapter["id"])
        assert made == {
            "model": "ollama:cove-a_20261123-abc_1",
            "base": str(home / "models" / "tiny.gguf"),
            "status": "success",
        }
        create = stand_in.creates[0]
        assert create["model"] == "cove-a_20261123-abc_1"
        assert list(create["files"]) == ["tiny.gguf"]
        assert list(create["adapters"]) == ["adapter.gguf"]

        named = adapters.to_ollama(db, config, adapter["id"], "mine", "smollm2:135m")
        assert named["model"] == "ollama:mine"
        assert stand_in.creates[1]["from"] == "smollm2:135m"
    finally:
        stand_in.close()


def test_an_ollama_that_does_not_answer_is_named(home, tmp_path):
    config, db, _ = home
    adapter = broken_adapter(config, db)
    dead = replace(config, ollama=replace(config.ollama, host="http://127.0.0.1:9"))
    with pytest.raises(adapters.AdapterError, match="Ollama at http://127.0.0.1:9"):
        adapters.to_ollama(db, dead, adapter["id"], base="smollm2:135m")


def test_an_adapter_remembers_the_questions_it_was_trained_on(home):
    config, db, _ = home
    folder = config.paths.adapters / "a_taught"
    folder.mkdir(parents=True)
    (folder / "adapter.gguf").write_bytes(b"GGUF")
    questions = [
        {
            "question": "Where is the spare key?",
            "target": "Under the blue pot.",
            "digest": "0123456789abcdef",
            "provenance": [{"kind": "teach", "path": "/t.jsonl", "line": 1, "digest": "0123"}],
            "split": "train",
        }
    ]
    adapters.register(
        db,
        adapter_id="a_taught",
        run_id=None,
        path=folder / "adapter.gguf",
        base_model=DEFAULT_MODEL_ID,
        status="promoted",
        metrics={},
        data_stats={},
        provenance=questions[0]["provenance"],
        questions=questions,
    )
    assert (folder / "questions.json").is_file()
    assert adapters.training_questions(config, "a_taught") == questions
    assert adapters.training_questions(config.paths, "a_taught") == questions
    broken_adapter(config, db)  # registered without questions, as adapters before them were
    assert adapters.training_questions(config, "a_broken") == []
    assert adapters.training_questions(config, "a_nope") == []
    assert adapters.training_questions(config, "../adapters/a_taught") == []
