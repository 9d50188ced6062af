"""GGUF export: llama.cpp's converter (cached at install), the adapter's GGUF metadata,
the Ollama Modelfile, and Ollama's create API against a local stand-in server (Ollama
itself cannot run here)."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from cove.finetune.export import (
    ExportError,
    export_gguf_adapter,
    find_converter,
    modelfile,
    ollama_create,
)
from cove.finetune.install_converter import VERSION_FILE, extract_converter, install_converter
from tests.support.ollama_create import OllamaCreateStandIn


def test_the_exported_adapter_is_a_lora_gguf(trained):
    from gguf import GGUFReader

    reader = GGUFReader(trained.gguf)

    def field(name):
        f = reader.fields[name]
        return f.parts[f.data[0]]

    assert bytes(field("general.type")).decode() == "adapter"
    assert bytes(field("adapter.type")).decode() == "lora"
    assert float(field("adapter.lora.alpha")[0]) == 16.0
    names = [t.name for t in reader.tensors]
    assert any(n.endswith(".lora_a") for n in names) and any(n.endswith(".lora_b") for n in names)
    assert not any(n.startswith(("token_embd", "output.")) for n in names)


def test_a_missing_converter_says_how_to_install_it(tmp_path):
    with pytest.raises(ExportError, match="run `make setup`"):
        find_converter(tmp_path / "nowhere")


def test_export_refuses_a_directory_without_an_adapter(hf_base, tmp_path):
    with pytest.raises(ExportError, match="no PEFT adapter"):
        export_gguf_adapter(tmp_path, hf_base, tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()


def test_the_converter_is_extracted_from_the_sdist(tmp_path):
    """The install step keeps only the converter's files from the sdist, with the version."""
    sdist = tmp_path / "llama_cpp_python-9.9.9.tar.gz"
    prefix = "llama_cpp_python-9.9.9/vendor/llama.cpp/"
    members = {
        "convert_lora_to_gguf.py": b"# converter",
        "convert_hf_to_gguf.py": b"# hf",
        "conversion/__init__.py": b"",
        "gguf-py/gguf/__init__.py": b"",
        "gguf-py/tests/test_x.py": b"",
        "src/llama.cpp": b"// not needed",
        "../../setup.py": b"",
    }
    with tarfile.open(sdist, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    dest = tmp_path / "llama-convert"
    extract_converter(sdist, dest, "9.9.9")
    files = sorted(str(p.relative_to(dest)) for p in dest.rglob("*") if p.is_file())
    assert files == sorted(
        [
            VERSION_FILE,
            "conversion/__init__.py",
            "convert_hf_to_gguf.py",
            "convert_lora_to_gguf.py",
            "gguf-py/gguf/__init__.py",
        ]
    )
    assert find_converter(dest) == dest / "convert_lora_to_gguf.py"
    # installed already: nothing is downloaded again
    assert install_converter(dest, tmp_path / "no-sdists", version="9.9.9") == dest


def test_modelfile_text(tmp_path):
    adapter = Path("/home/me/.cove/adapters/a1/adapter.gguf")
    assert modelfile("smollm2:135m", adapter) == (
        "FROM smollm2:135m\nADAPTER /home/me/.cove/adapters/a1/adapter.gguf\n"
    )
    text = modelfile(Path("/models/base.gguf"), adapter, system="Be brief.")
    assert text.splitlines() == [
        "FROM /models/base.gguf",
        "ADAPTER /home/me/.cove/adapters/a1/adapter.gguf",
        'SYSTEM """Be brief."""',
    ]


def test_ollama_create_uploads_the_adapter_and_names_the_base(tmp_path):
    stand_in = OllamaCreateStandIn()
    try:
        adapter = tmp_path / "adapter.gguf"
        adapter.write_bytes(b"GGUF adapter bytes")
        digest = "sha256:" + hashlib.sha256(adapter.read_bytes()).hexdigest()
        assert ollama_create("cove-me", "smollm2:135m", adapter, host=stand_in.host) == "success"
        assert stand_in.blobs == {digest: b"GGUF adapter bytes"}
        create = stand_in.creates[0]
        assert create["model"] == "cove-me" and create["from"] == "smollm2:135m"
        assert create["adapters"] == {"adapter.gguf": digest}
        # a base GGUF file is uploaded too
        base = tmp_path / "base.gguf"
        base.write_bytes(b"GGUF base bytes")
        ollama_create("cove-me-2", base, adapter, host=stand_in.host)
        assert stand_in.creates[1]["files"] == {
            "base.gguf": "sha256:" + hashlib.sha256(b"GGUF base bytes").hexdigest()
        }
    finally:
        stand_in.server.shutdown()
