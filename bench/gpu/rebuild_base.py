"""Rebuild the HF base (model.safetensors) from the GGUF with gguf-py, as
transformers' GGUF loader does (dequantize, reverse llama's q/k permutation)."""

import json
import sys
from pathlib import Path

import gguf
import numpy as np
from gguf.quants import dequantize
from safetensors.numpy import save_file

gguf_path, dest = Path(sys.argv[1]), Path(sys.argv[2])
cfg = json.loads((dest / "config.json").read_text())
H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
NAMES = {
    "attn_norm": "input_layernorm",
    "ffn_down": "mlp.down_proj",
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_norm": "post_attention_layernorm",
    "attn_k": "self_attn.k_proj",
    "attn_output": "self_attn.o_proj",
    "attn_q": "self_attn.q_proj",
    "attn_v": "self_attn.v_proj",
}


def unpermute(w, n_head):
    dim = w.shape[0] // n_head // 2
    w = w.reshape(n_head, dim, 2, *w.shape[1:])
    return w.swapaxes(2, 1).reshape(w.shape[0] * w.shape[1] * w.shape[2], *w.shape[3:])


out = {}
for t in gguf.GGUFReader(str(gguf_path)).tensors:
    w = dequantize(t.data, t.tensor_type).astype(np.float32)
    shape = [int(x) for x in reversed(t.shape)]
    w = w.reshape(shape)
    if t.name == "token_embd.weight":
        name = "model.embed_tokens.weight"
    elif t.name == "output_norm.weight":
        name = "model.norm.weight"
    elif t.name == "output.weight":
        name = "lm_head.weight"
    else:
        _, layer, kind, _ = t.name.split(".")
        if kind == "attn_q":
            w = unpermute(w, H)
        elif kind == "attn_k":
            w = unpermute(w, KV)
        name = f"model.layers.{layer}.{NAMES[kind]}.weight"
    out[name] = np.ascontiguousarray(w)
save_file(out, str(dest / "model.safetensors"), metadata={"format": "pt"})
print("rebuilt", len(out), "tensors into", dest)
