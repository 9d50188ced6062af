"""Cove's fine-tuning library: dataset, trainer, GGUF export, eval gate and adapter registry."""
