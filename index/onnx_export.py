"""The ONNX export of a sentence-transformers model, made once and cached, for the ONNX
embedding backends (`onnx_embedder` runs it).

One export serves both backends: `onnx`, the model's graph fused for onnxruntime in full
precision, whose vectors equal torch's to float rounding; and `onnx-int8`, that graph with its
weights quantized to 8 bits, faster still but measurably less precise (README, bench/embed.py).

The export is made once, locally, from the model directory (no hub, no network) into a cache
directory the caller names. A JSON manifest beside it records what it was made from (the model
directory and a fingerprint of its files) and how (`RECIPE`); any difference makes it again.
Each graph is checked against the torch model itself on a few probe texts and refused below
its floor in `MIN_PROBE_COSINE`, so a model that exports or quantizes badly never reaches an
index.

The model identity (`name`) keys the Chroma collection and the embedding cache. `onnx` keeps
torch's (its vectors are torch's), so switching between the two re-embeds nothing; `onnx-int8`
carries its backend, so its vectors get their own collection and cache key and switching to
or from it re-embeds like a change of model.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from cove.index.embedding_model import model_name
from cove.index.onnx_embedder import (
    OnnxEmbedder,
    max_seq_length,
    normalize,
    pool,
    pooling_mode,
)

log = logging.getLogger("cove.embedder")

MANIFEST = "export.json"
# The graph each backend runs, in the export directory.
GRAPHS = {"onnx": "model-fp32.onnx", "onnx-int8": "model-int8.onnx"}
# How the export is made; stored in the manifest, so changing any of it redoes old exports.
# Fusion (Attention, SkipLayerNorm, BiasGelu: onnxruntime's BERT optimizer) is most of the
# speed-up and exact. The int8 settings were chosen on 559 Git-documentation chunks against the
# torch vectors (README, bench/embed.py). The CPU here has AVX2 but no VNNI, where onnxruntime
# multiplies uint8 activations by int8 weights in 16-bit sums that saturate: plain QInt8 (per
# tensor) scored mean cosine 0.943. 7-bit weights (reduce_range) avoid the saturation, a scale
# per output channel (per_channel) keeps each weight row precise: 0.992. Leaving out one node
# at a time showed the feed-forward output projections of the first layers (inputs: GELU
# outputs, with outliers) lose the most; keeping three in fp32 gives 0.996 (min 0.981 ->
# 0.992) for about 8% of the speed. Even so, int8 lowered retrieval nDCG@10 by 0.02-0.03 on
# the Git evaluation, as every int8 variant tried did (by 0.01 on average; README).
RECIPE: dict[str, Any] = {
    "format": 2,
    "opset": 17,
    "fusion": "bert",
    "weight_type": "QInt8",
    "per_channel": True,
    "reduce_range": True,
    "op_types": ["MatMul", "Attention"],
    "keep_fp32": r"/encoder/layer\.[0-2]/output/dense/MatMul$",
}
# Mean cosine of each graph's vectors to the torch model's on `PROBE_TEXTS`, below which it is
# refused. `onnx` shares torch's model identity, so it must match to float rounding.
MIN_PROBE_COSINE = {"onnx": 0.9999, "onnx-int8": 0.98}
# Varied in length and register: enough to catch a model that quantizes badly.
PROBE_TEXTS = (
    "How do I undo the last commit but keep my changes?",
    "The quick brown fox jumps over the lazy dog.",
    "Invoice 2024-117: 3 × consulting hours at 120 EUR, due within 30 days.",
    "def load(path):\n    with open(path) as f:\n        return json.load(f)",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Meeting notes: moved the release to Friday; Anna owns the changelog.",
    "Rebasing rewrites history: each commit is replayed on top of the new base, so commits "
    "that were already pushed get new identities and collaborators must reset their branches. "
    "Prefer merging shared branches, and rebase only work that nobody else has fetched yet. "
    "When a conflict stops the rebase, fix the files, add them, and continue; abort returns "
    "the branch to where it started.",
    "SELECT name, count(*) FROM orders GROUP BY name HAVING count(*) > 10;",
)


def export_dir(cache_root: Path, model_path: Path) -> Path:
    """Where the export of `model_path` lives under `cache_root` (one folder per model)."""
    slug = "".join(c if c.isalnum() else "-" for c in model_name(model_path).lower()).strip("-")
    return Path(cache_root) / (slug or "model")


def model_fingerprint(model_path: Path) -> str:
    """sha256 over the model directory's files (names and contents), docs left out: a model
    replaced in place must not keep a stale export."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(model_path).rglob("*") if p.is_file()):
        relative = path.relative_to(model_path).as_posix()
        if relative.startswith(".") or relative.lower().endswith(".md"):
            continue
        digest.update(relative.encode() + b"\0")
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def ensure_export(model_path: Path, cache_root: Path) -> Path:
    """The directory of a current export of `model_path`, made first if missing or stale."""
    if not Path(model_path).is_dir():
        raise FileNotFoundError(f"embedding model directory not found: {model_path}")
    target = export_dir(cache_root, model_path)
    source = Path(model_path).resolve()
    wanted = {"source": str(source), "fingerprint": model_fingerprint(source), **RECIPE}
    if _manifest_matches(target, wanted):
        return target
    log.info("exporting embedding model %s to ONNX, once (under a minute)…", model_path)
    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target)
    work = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        probe = _export(model_path, work)
        manifest = {**wanted, "probe_cosine": probe, "created": time.time()}
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _replace_dir(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    log.info("exported to %s in %.0f s (probe cosines %s)", target, elapsed, probe)
    return target


def _remove_leftovers(target: Path, min_age_s: float = 3600) -> None:
    """Temp dirs of exports that were killed midway (e.g. a start that timed out)."""
    for path in target.parent.glob(f".{target.name}-*"):
        try:
            if time.time() - path.stat().st_mtime > min_age_s:
                shutil.rmtree(path, ignore_errors=True)
        except FileNotFoundError:
            pass


def _manifest_matches(target: Path, wanted: dict[str, Any]) -> bool:
    try:
        manifest = json.loads((target / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    same = all(manifest.get(key) == value for key, value in wanted.items())
    return same and all((target / graph).is_file() for graph in GRAPHS.values())


def _replace_dir(new: Path, target: Path) -> None:
    """Put `new` at `target` by renames, so a reader never sees half an export."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}-old-{os.getpid()}")
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _export(model_path: Path, work: Path) -> dict[str, float]:
    """fp32 export, fusion, quantization into `work`; returns each graph's probe cosine."""
    raw, fused, quantized = work / "raw.onnx", work / GRAPHS["onnx"], work / GRAPHS["onnx-int8"]
    config, reference = _export_fp32(model_path, raw)
    with _quiet_onnx_tools():
        _fuse(raw, fused, config)
        _quantize(fused, quantized)
    raw.unlink()
    probe = {}
    for backend, graph in GRAPHS.items():
        vectors = np.asarray(OnnxEmbedder(model_path, work / graph).embed(list(PROBE_TEXTS)))
        probe[backend] = round(float((reference * vectors).sum(axis=1).mean()), 5)
    return probe


@contextmanager
def _quiet_onnx_tools() -> Iterator[None]:
    """Hold back the optimizer's and quantizer's INFO lines (a hundred per export).

    The quantizer logs through the root logger itself; a filter on the root logger sees only
    such direct records, not those of Cove's named loggers propagating through it.
    """
    root = logging.getLogger()
    named = [logging.getLogger(n) for n in ("fusion_base", "onnx_model", "onnx_model_bert")]
    levels = [logger.level for logger in named]

    def warnings_only(record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING

    root.addFilter(warnings_only)
    for logger in named:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        root.removeFilter(warnings_only)
        for logger, level in zip(named, levels, strict=True):
            logger.setLevel(level)


def _export_fp32(model_path: Path, out: Path) -> tuple[dict[str, Any], np.ndarray]:
    """The transformer body (token vectors out; pooling is done in numpy) as ONNX; returns
    the model's config and the torch model's own vectors for `PROBE_TEXTS`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_path), local_files_only=True)
    # Eager attention exports as plain MatMul/Softmax, the pattern the BERT fusion recognises
    # (the SDPA export does not fuse).
    model = AutoModel.from_pretrained(
        str(model_path), local_files_only=True, attn_implementation="eager"
    ).eval()
    reference = _torch_vectors(model_path, model, tokenizer)
    names = list(tokenizer.model_input_names)
    sample = tokenizer(["an example", "a longer example text"], padding=True, return_tensors="pt")

    class Body(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(names, inputs, strict=True))).last_hidden_state

    axes = {name: {0: "batch", 1: "sequence"} for name in [*names, "token_vectors"]}
    # The tracer warns about shapes it fixes and indexing it rewrites; the probe checks the
    # result against the torch model anyway, so the warnings would only alarm a log reader.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            # eval(): the export leaves the module in the mode it found it in, and a wrapper
            # left in training mode would switch the model's dropout back on.
            Body().eval(),
            tuple(sample[name] for name in names),
            str(out),
            input_names=names,
            output_names=["token_vectors"],
            dynamic_axes=axes,
            opset_version=RECIPE["opset"],
            dynamo=False,
        )
    return model.config.to_dict(), reference


def _torch_vectors(model_path: Path, model, tokenizer) -> np.ndarray:
    """The reference the probe compares the graphs with: the model itself, in torch."""
    import torch

    limit = max_seq_length(model_path, tokenizer.model_max_length)
    rows = []
    with torch.no_grad():
        for text in PROBE_TEXTS:
            encoded = tokenizer(text, truncation=True, max_length=limit, return_tensors="pt")
            tokens = model(**encoded).last_hidden_state.numpy()
            no_padding = np.ones(tokens.shape[:2], dtype=np.int64)
            rows.append(normalize(pool(tokens, no_padding, pooling_mode(model_path))))
    return np.concatenate(rows)


def _fuse(source: Path, out: Path, config: dict[str, Any]) -> None:
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(
        str(source),
        model_type=RECIPE["fusion"],
        num_heads=int(config.get("num_attention_heads", 0)),
        hidden_size=int(config.get("hidden_size", 0)),
        opt_level=1,
    )
    optimized.save_model_to_file(str(out))


def _quantize(source: Path, out: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    keep = re.compile(RECIPE["keep_fp32"])
    nodes = onnx.load(str(source), load_external_data=False).graph.node
    quantize_dynamic(
        str(source),
        str(out),
        nodes_to_exclude=[node.name for node in nodes if keep.search(node.name)],
        weight_type=getattr(QuantType, RECIPE["weight_type"]),
        per_channel=RECIPE["per_channel"],
        reduce_range=RECIPE["reduce_range"],
        op_types_to_quantize=list(RECIPE["op_types"]),
        # Fused ops (com.microsoft domain) defeat ONNX shape inference; their outputs are float.
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


def load_onnx_embedder(
    model_path: Path,
    cache_root: Path,
    backend: str = "onnx",
    batch_size: int = 32,
    threads: int = 0,
) -> OnnxEmbedder:
    """The `backend` ("onnx" or "onnx-int8") embedder for `model_path`, exported under
    `cache_root` on first use.

    Raises ValueError when the graph lost too much against the torch model.
    """
    target = ensure_export(model_path, cache_root)
    probe = json.loads((target / MANIFEST).read_text(encoding="utf-8"))["probe_cosine"][backend]
    if probe < MIN_PROBE_COSINE[backend]:
        raise ValueError(
            f"the {backend} export of {model_path} keeps too little of the model (probe cosine "
            f'{probe} < {MIN_PROBE_COSINE[backend]}); use [embeddings] backend = "torch"'
        )
    # Only the int8 vectors differ from torch's enough to need their own identity.
    name = model_name(model_path) + ("+onnx-int8" if backend == "onnx-int8" else "")
    return OnnxEmbedder(model_path, target / GRAPHS[backend], name, batch_size, threads)
