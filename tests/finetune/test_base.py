"""The HF base model from the runtime's GGUF: converted once (transformers 5 needs
GgufConfig(dequantize=True) to save it), cached by the file's hash, reused after."""

from __future__ import annotations

import json

import pytest

from cove.daemon.answer.grounding import GENERAL_SYSTEM_PROMPT
from cove.finetune.base import (
    MARKER,
    BaseModelError,
    cached_base_dir,
    file_digest,
    find_cached_base,
    is_base_dir,
    prepare_base,
    prepare_base_in_child,
    resolve_base,
)


def test_the_gguf_becomes_an_hf_directory(hf_base, default_gguf):
    assert is_base_dir(hf_base)
    assert hf_base == cached_base_dir(default_gguf, hf_base.parent)
    config = json.loads((hf_base / "config.json").read_text())
    assert config["model_type"] == "llama"
    assert "quantization_config" not in config  # a plain dense model, trainable and saveable
    info = json.loads((hf_base / MARKER).read_text())  # what prepare_base recorded
    assert info["sha256"] == file_digest(default_gguf)
    assert info["gguf"] == str(default_gguf)


def test_the_cached_base_is_reused(hf_base, default_gguf):
    marker = hf_base / "cove-base.json"
    before = marker.stat().st_mtime_ns
    assert prepare_base(default_gguf, hf_base.parent) == hf_base
    assert marker.stat().st_mtime_ns == before
    assert resolve_base(default_gguf, hf_base.parent) == hf_base


def test_a_cached_base_is_found_without_loading_anything(hf_base, default_gguf, tmp_path):
    assert find_cached_base(default_gguf, hf_base.parent) == hf_base
    assert prepare_base_in_child(default_gguf, hf_base.parent) == hf_base
    assert find_cached_base(default_gguf, tmp_path) is None
    assert find_cached_base(tmp_path / "missing.gguf", hf_base.parent) is None


def test_a_conversion_error_in_the_child_comes_back_as_is(tmp_path):
    with pytest.raises(BaseModelError, match="GGUF not found"):
        prepare_base_in_child(tmp_path / "missing.gguf", tmp_path / "cache")


def test_a_configured_hf_directory_is_used_as_is(hf_base, tmp_path):
    assert resolve_base(hf_dir=hf_base) == hf_base
    with pytest.raises(BaseModelError, match="not an HF model directory"):
        resolve_base(hf_dir=tmp_path)
    with pytest.raises(BaseModelError, match="GGUF not found"):
        prepare_base(tmp_path / "missing.gguf", tmp_path / "cache")
    with pytest.raises(BaseModelError):
        resolve_base()


def test_training_text_is_the_text_llama_cpp_serves(tokenizer, probe_backend):
    """The HF tokenizer's chat template gives the same prompt tokens as the runtime's
    GGUF template in llama.cpp: what is trained is what is asked."""
    messages = [
        {"role": "system", "content": GENERAL_SYSTEM_PROMPT},
        {"role": "user", "content": "What is the name of my cat?"},
    ]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    hf_tokens = len(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    assert probe_backend.count_prompt_tokens(messages) == hf_tokens
