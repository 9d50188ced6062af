"""Fixtures for the fine-tuning tests, on real parts: the default GGUF turned into an HF
base once, one adapter trained on a handful of facts (and one on noise) through the real
trainer subprocess, with its epoch checks and early stopping, exported with llama.cpp's
converter and loaded in llama.cpp.

Everything expensive is session-scoped and shared: the whole directory trains twice. The
runs measure drift on a 12-row sample of the general set and replay a 16-row sample of the
replay set (the product uses all of both): the mechanism is the same, at a tenth of the
cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from cove.daemon.answer.grounding import GENERAL_SYSTEM_PROMPT
from tests.finetune.facts import CORRECTED, DUPLICATE, FACTS, noise_answers

# One thread: on a loaded 2-core machine two OpenMP threads wait on each other and a
# step takes longer than with one (measured: ~3.5 s against ~5 s).
THREADS = 1
STEPS = 32  # the budget: 5 train rows are learned in ~10 epochs of 2 steps at lr 1e-3
NOISE_STEPS = 8  # enough to make the held-out loss worse
GENERAL_ROWS, DRIFT_ROWS, REPLAY_ROWS = 12, 6, 16


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip tests marked gpu without CUDA (Unsloth cannot even be imported then)."""
    if item.get_closest_marker("gpu"):
        import torch

        if not torch.cuda.is_available():
            pytest.skip("needs a CUDA GPU for Unsloth: torch.cuda.is_available() is False")


@pytest.fixture(scope="session")
def tokenizer(hf_base):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(hf_base)


@dataclass
class Data:
    dataset: object
    paths: dict
    teach_folder: Path


def facts_db(path: Path):
    """A real cove.db where the dentist fact arrives as a correction of an answer."""
    from cove.daemon.records import sessions
    from cove.daemon.records.feedback import set_feedback
    from cove.daemon.store import open_db

    db = open_db(path)
    session_id = sessions.create_session(db, "Errands")
    sessions.add_message(db, session_id, "user", CORRECTED[0])
    answer = sessions.add_message(db, session_id, "assistant", "I don't know your calendar.")
    set_feedback(db, answer, rating="down", correction=CORRECTED[1])
    return db


@pytest.fixture(scope="session")
def facts_data(tmp_path_factory, tokenizer) -> Data:
    from cove.daemon.records.feedback import training_examples
    from cove.finetune.dataset import build_dataset, write_dataset
    from cove.finetune.teach import teach

    root = tmp_path_factory.mktemp("facts")
    folder = root / "teach"
    for question, answer in FACTS:
        teach(folder, question, answer)
    (folder / "more.md").write_text(f"# Duplicates\n\nQ: {DUPLICATE[0]}\nA: {DUPLICATE[1]}\n")
    db = facts_db(root / "cove.db")
    dataset = build_dataset(
        tokenizer,
        feedback=training_examples(db),
        teach_folder=folder,
        system=GENERAL_SYSTEM_PROMPT,
        heldout_fraction=0.3,
    )
    return Data(dataset, write_dataset(dataset, root / "data"), folder)


def general_sample(folder: Path, tokenizer, source: Path, size: int) -> Path:
    """A sample of a general set, rendered as the daemon writes it for a run."""
    from cove.finetune.dataset import write_rows
    from cove.finetune.drift import render_general, spread_subset

    rows = render_general(tokenizer, source)
    path = folder / source.name
    write_rows(path, [rows[i] for i in spread_subset(rows, size)])
    return path


@pytest.fixture(scope="session")
def general_path(tmp_path_factory, tokenizer) -> Path:
    from cove.finetune.drift import GENERAL_FILE

    return general_sample(tmp_path_factory.mktemp("general"), tokenizer, GENERAL_FILE, GENERAL_ROWS)


@pytest.fixture(scope="session")
def replay_path(tmp_path_factory, tokenizer) -> Path:
    from cove.finetune.drift import REPLAY_FILE

    return general_sample(tmp_path_factory.mktemp("replay"), tokenizer, REPLAY_FILE, REPLAY_ROWS)


@pytest.fixture(scope="session")
def noise_paths(tmp_path_factory, tokenizer, facts_data) -> dict:
    """The same questions with random strings as answers (held-out: the real facts)."""
    from cove.finetune.dataset import Example, build_dataset, write_dataset

    questions = [q for q, _ in FACTS] + [CORRECTED[0]]
    examples = [
        Example([{"role": "user", "content": q}], a, "teach")
        for q, a in zip(questions, noise_answers(len(questions)), strict=True)
    ]
    noise = build_dataset(tokenizer, extra=examples, system=GENERAL_SYSTEM_PROMPT)
    noise.train += noise.heldout  # train on all of it; judge on the user's real data
    noise.heldout = []
    paths = write_dataset(noise, tmp_path_factory.mktemp("noise"))
    return {**paths, "heldout": facts_data.paths["heldout"]}


@dataclass
class Trained:
    result: object
    events: list
    gguf: Path


def train_and_export(
    base: Path, paths: dict, out: Path, steps: int, general: Path | None, replay: Path | None
) -> Trained:
    from cove.finetune.export import export_gguf_adapter
    from cove.finetune.spec import TrainSpec
    from cove.finetune.trainer import run_training

    spec = TrainSpec(
        base_dir=str(base),
        train_path=str(paths["train"]),
        eval_path=str(paths["heldout"]),
        general_path=str(general) if general else None,
        drift_rows=DRIFT_ROWS,
        replay_path=str(replay) if replay else None,
        output_dir=str(out),
        steps=steps,
        learning_rate=1e-3,
        threads=THREADS,
        nice=0,  # niceness is checked on its own; here it would only slow the suite
    )
    events: list[dict] = []
    result = run_training(spec, events.append)
    assert result.ok, result.message
    gguf = export_gguf_adapter(Path(result.adapter_dir), base, out / "adapter.gguf")
    return Trained(result, events, gguf)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, hf_base, facts_data, general_path, replay_path) -> Trained:
    out = tmp_path_factory.mktemp("run")
    return train_and_export(hf_base, facts_data.paths, out, STEPS, general_path, replay_path)


@pytest.fixture(scope="session")
def noise_trained(tmp_path_factory, hf_base, noise_paths) -> Trained:
    """Judged on recall and the held-out paraphrases: no general set, no replay (faster)."""
    out = tmp_path_factory.mktemp("noise-run")
    return train_and_export(hf_base, noise_paths, out, NOISE_STEPS, None, None)


@pytest.fixture(scope="session")
def probe_backend(default_gguf):
    """The quantized default model in llama.cpp, as users get answers (own instance:
    the tests switch adapters on it)."""
    from cove.daemon.runtime.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend(default_gguf, "smollm2-135m-instruct", context=2048, threads=THREADS)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def greedy():
    from cove.daemon.runtime.base import GenerationParams

    return GenerationParams(max_tokens=24, temperature=0, seed=1)  # the facts are shorter
