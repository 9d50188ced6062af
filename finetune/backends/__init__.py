"""Training backends: peft LoRA on the CPU (or any torch device), Unsloth QLoRA on CUDA."""
