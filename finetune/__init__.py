"""Cove's fine-tuning library: dataset, trainer, GGUF export and eval gate.

A library: functions take explicit arguments (paths, settings, a sqlite-utils Database)
and never read the daemon's config. The daemon drives a run:

    base.prepare_base(gguf, cache)            the runtime's GGUF as an HF directory (cached)
    dataset.build_dataset(tokenizer, ...)     feedback + teach folder (+ synthetic) -> rows
    dataset.write_dataset(ds, dir)            train.jsonl, heldout.jsonl, stats.json
    drift.write_general(tokenizer, dir, ...)  the general held-out and replay sets, rendered
    trainer.run_training(TrainSpec, on_event) the trainer subprocess (train_run), watched;
                                              epochs.* measures each epoch, keeps the best
    export.export_gguf_adapter(...)           PEFT adapter -> GGUF adapter (llama.cpp)
    evaluate.compare_on_probes / decide       the eval gate
    forget.*                                  forgetting deleted sources
"""
