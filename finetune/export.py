"""A PEFT adapter becomes a GGUF adapter, for llama.cpp and for Ollama.

The conversion is llama.cpp's own `convert_lora_to_gguf.py --base <HF base dir>
--outtype f16`, from the llama-cpp-python sdist of the pinned version, cached at install
(`cove.finetune.install_converter`, run by `make setup`). It runs in a subprocess with the
venv's python and the sdist's `gguf-py` first on PYTHONPATH. It reads only the base's
config, not its weights.

For Ollama, a model is created from the base with the adapter: a Modelfile
(`FROM <base>` / `ADAPTER <adapter.gguf>`), or the same through Ollama's create API.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cove.finetune.install_converter import SCRIPT, default_converter_dir


class ExportError(RuntimeError):
    """The adapter could not be converted, or the converter is not installed."""


def find_converter(converter_dir: Path | None = None) -> Path:
    """The path of `convert_lora_to_gguf.py` in `converter_dir` (default: in the venv)."""
    folder = converter_dir or default_converter_dir()
    script = folder / SCRIPT
    if not script.is_file() or not (folder / "gguf-py").is_dir():
        raise ExportError(
            f"llama.cpp's LoRA converter is not installed in {folder}: run `make setup` "
            "(or `python -m cove.finetune.install_converter`)"
        )
    return script


def export_gguf_adapter(
    adapter_dir: Path,
    base_dir: Path,
    out_path: Path,
    converter_dir: Path | None = None,
    python: str | None = None,
    outtype: str = "f16",
    timeout_s: float = 600,
) -> Path:
    """Convert the PEFT adapter in `adapter_dir` to a GGUF LoRA adapter at `out_path`."""
    script = find_converter(converter_dir)
    if not (adapter_dir / "adapter_config.json").is_file():
        raise ExportError(f"no PEFT adapter in {adapter_dir} (adapter_config.json missing)")
    if not (base_dir / "config.json").is_file():
        raise ExportError(f"no HF base model in {base_dir} (config.json missing)")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(out_path.name + ".partial")
    env = dict(os.environ)
    env.pop("NO_LOCAL_GGUF", None)
    gguf_py = str(script.parent / "gguf-py")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [gguf_py, env.get("PYTHONPATH")]))
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    command = [
        python or sys.executable,
        str(script),
        "--base",
        str(base_dir),
        "--outtype",
        outtype,
        "--outfile",
        str(partial),
        str(adapter_dir),
    ]
    try:
        done = subprocess.run(
            command,
            env=env,
            cwd=script.parent,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        partial.unlink(missing_ok=True)
        raise ExportError(f"the converter did not run: {exc}") from exc
    if done.returncode != 0 or not partial.is_file() or partial.stat().st_size == 0:
        partial.unlink(missing_ok=True)
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-10:])
        raise ExportError(f"convert_lora_to_gguf.py failed ({done.returncode}):\n{tail}")
    partial.replace(out_path)
    return out_path


def modelfile(base: str | Path, adapter: Path, system: str | None = None) -> str:
    """An Ollama Modelfile applying `adapter` (GGUF) over `base` (a model name or a GGUF)."""
    lines = [f"FROM {base}", f"ADAPTER {adapter}"]
    if system:
        lines.append('SYSTEM """' + system.replace('"""', '"') + '"""')
    return "\n".join(lines) + "\n"


def ollama_create(
    name: str,
    base: str | Path,
    adapter: Path,
    host: str | None = None,
    client=None,
    system: str | None = None,
) -> str:
    """Create Ollama model `name` from `base` with `adapter`; returns the final status.

    `base` is an Ollama model name, or a path to the base GGUF, which is uploaded as a
    blob (as is the adapter): the same as `ollama create -f Modelfile`, over the API.
    """
    import ollama

    client = client or ollama.Client(host=host)
    adapters = {adapter.name: client.create_blob(adapter)}
    base_path = Path(base)
    if base_path.suffix == ".gguf" and base_path.is_file():
        files = {base_path.name: client.create_blob(base_path)}
        response = client.create(model=name, files=files, adapters=adapters, system=system)
    else:
        response = client.create(model=name, from_=str(base), adapters=adapters, system=system)
    return response.status or ""
