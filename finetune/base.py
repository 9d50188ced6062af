"""The base model fine-tuning starts from: the runtime's GGUF turned into an HF directory.

transformers reads a GGUF checkpoint directly and dequantizes it. With transformers 5.x
(checked on 5.23) a plain `from_pretrained(dir, gguf_file=name)` attaches a GGUF
"quantizer" to the model, and `save_pretrained` then refuses it ("quantized with gguf and
is not serializable"). Asking for the dequantized model explicitly,
`quantization_config=GgufConfig(dequantize=True)`, gives a plain dense model that saves
as config + safetensors. (transformers 4.57 needed no such argument.)

The HF directory is written once per GGUF, under `cache_root/<sha256 prefix>/`, and reused.
A configured HF model directory (config.json + weights + tokenizer) can be used instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

MARKER = "cove-base.json"


class BaseModelError(RuntimeError):
    """The base model cannot be prepared or is not a usable HF model directory."""


def file_digest(path: Path, chunk: int = 1 << 20) -> str:
    """sha256 of a file, read in pieces (a GGUF is hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def is_base_dir(path: Path) -> bool:
    """Whether `path` looks like an HF causal LM directory with a tokenizer."""
    if not (path / "config.json").is_file():
        return False
    has_weights = any(path.glob("*.safetensors")) or any(path.glob("*.bin"))
    has_tokenizer = (path / "tokenizer.json").is_file() or (path / "tokenizer.model").is_file()
    return has_weights and has_tokenizer


def cached_base_dir(gguf_path: Path, cache_root: Path) -> Path:
    """Where the HF base of `gguf_path` lives (or will live) under `cache_root`."""
    return cache_root / file_digest(gguf_path)[:16]


def _complete(dest: Path) -> bool:
    return (dest / MARKER).is_file() and is_base_dir(dest)


def find_cached_base(gguf_path: Path, cache_root: Path) -> Path | None:
    """The HF base of `gguf_path` if it was converted before (cheap: no model is loaded)."""
    if not gguf_path.is_file():
        return None
    dest = cached_base_dir(gguf_path, cache_root)
    return dest if _complete(dest) else None


def prepare_base_in_child(gguf_path: Path, cache_root: Path) -> Path:
    """`prepare_base` in a fresh child process. Dequantizing through transformers holds
    the GIL for long stretches; in the daemon's process that would stall its API."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    cached = find_cached_base(gguf_path, cache_root)
    if cached is not None:
        return cached
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(prepare_base, gguf_path, cache_root).result()


def _dequantize_option() -> dict:
    """`quantization_config=GgufConfig(dequantize=True)` where transformers has it (5.x)."""
    import inspect

    import transformers

    config = getattr(transformers, "GgufConfig", None)
    if config is None or "dequantize" not in inspect.signature(config.__init__).parameters:
        return {}  # transformers 4.x dequantizes GGUF checkpoints by itself
    return {"quantization_config": config(dequantize=True)}


def convert_gguf(gguf_path: Path, dest: Path) -> Path:
    """Dequantize `gguf_path` through transformers and save model + tokenizer into `dest`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, dtype=torch.float32, **_dequantize_option()
    )
    if not getattr(tokenizer, "chat_template", None):
        raise BaseModelError(f"{gguf_path.name} has no chat template: it is not a chat model")
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    return dest


def prepare_base(gguf_path: Path, cache_root: Path) -> Path:
    """The HF base directory for `gguf_path`, converted on first use and cached after.

    The directory appears complete or not at all (written beside, then renamed), so a
    conversion killed halfway is redone next time rather than used.
    """
    if not gguf_path.is_file():
        raise BaseModelError(f"GGUF not found: {gguf_path}")
    digest = file_digest(gguf_path)
    dest = cache_root / digest[:16]
    if _complete(dest):
        return dest
    cache_root.mkdir(parents=True, exist_ok=True)
    partial = cache_root / f".{digest[:16]}.{os.getpid()}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        convert_gguf(gguf_path, partial)
        import transformers

        info = {
            "gguf": str(gguf_path),
            "sha256": digest,
            "transformers": transformers.__version__,
        }
        (partial / MARKER).write_text(json.dumps(info, indent=2) + "\n")
        if dest.exists():  # another process finished first, or a broken earlier attempt
            shutil.rmtree(dest)
        partial.rename(dest)
    except BaseModelError:
        raise
    except Exception as exc:
        raise BaseModelError(f"could not convert {gguf_path} to an HF model: {exc}") from exc
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return dest


def resolve_base(
    gguf_path: Path | None = None,
    cache_root: Path | None = None,
    hf_dir: Path | None = None,
) -> Path:
    """The base directory to train from: a configured HF directory, else the GGUF's cache."""
    if hf_dir is not None:
        if not is_base_dir(hf_dir):
            raise BaseModelError(
                f"{hf_dir} is not an HF model directory (config.json, weights and a tokenizer)"
            )
        return hf_dir
    if gguf_path is None or cache_root is None:
        raise BaseModelError("give either an HF model directory or a GGUF and a cache directory")
    return prepare_base(gguf_path, cache_root)


def base_fingerprint(base_dir: Path) -> str:
    """A name for the weights in `base_dir`: what `prepare_base` recorded (the GGUF's
    sha256 and the converter's version), else the weight files' names, sizes and times."""
    marker = base_dir / MARKER
    info = json.loads(marker.read_text()) if marker.is_file() else {}
    if not info:  # a configured HF directory: prepare_base recorded nothing
        files = sorted([*base_dir.glob("*.safetensors"), *base_dir.glob("*.bin")])
        info = {
            "dir": str(base_dir.resolve()),
            "files": [[f.name, f.stat().st_size, f.stat().st_mtime_ns] for f in files],
        }
    return hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:16]
