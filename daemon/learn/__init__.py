"""Personal fine-tuning, seen from the daemon: the examples, a training run and its adapters."""
