"""cove train now | status | schedule | cancel: personal fine-tuning runs."""

from __future__ import annotations

import sys

import click

from cove.daemon.cli.output import (
    CliContext,
    CommandError,
    api_errors,
    emit_json,
    ensure_daemon,
    info,
    json_option,
    local_time,
    pass_cli,
    running_client,
)

STAGE_NAMES = {
    "base": "preparing the base model",
    "dataset": "building the dataset",
    "training": "training",
    "export": "exporting the GGUF adapter",
    "evaluating": "judging base against adapter",
    "activating": "loading the adapter",
}


@click.group()
def train() -> None:
    """Personal fine-tuning: train a LoRA adapter on what you taught Cove.

    Cove learns from answers you rated up or corrected (`cove feedback`) and from the
    question/answer pairs in its teach folder (`cove teach`). A run builds the dataset,
    trains (Unsloth on a CUDA GPU, else transformers+peft on the CPU, at the lowest CPU
    priority), exports a GGUF adapter, and promotes it only if it beats the model without
    it on held-out data and on your own facts; a promoted adapter is loaded at once.
    `cove adapters` lists, activates and rolls back adapters.
    """


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def progress_line(run: dict) -> str:
    """One line: the stage, and for training the step, loss, speed and time left."""
    stage = run.get("stage")
    if stage != "training" or not run.get("progress"):
        return f"{run['id']}: {STAGE_NAMES.get(stage, run['status'])}…"
    p = run["progress"]
    loss = f"{p['loss']:.3f}" if p.get("loss") is not None else "-"
    speed = f"{p['tokens_per_s']:.0f} tok/s" if p.get("tokens_per_s") else ""
    return (
        f"{run['id']}: training step {p['step']}/{p['steps']}  loss {loss}  {speed}  "
        f"ETA {_duration(p.get('eta_s'))}"
    )


def outcome_text(run: dict) -> str:
    """What happened to a finished run, in a few lines."""
    status = run["status"]
    lines = [f"run {run['id']}: {status}"]
    decision = run.get("decision") or {}
    for reason in decision.get("reasons", []):
        lines.append(f"  {reason}")
    ollama_model = (run.get("metrics") or {}).get("ollama_model")
    if status == "promoted" and ollama_model:
        lines.append(f"  Ollama model {ollama_model}: `cove models use {ollama_model}`")
    elif status == "promoted":
        lines.append(f"  adapter {run['adapter_id']} is active (`cove adapters list`)")
    elif status == "rejected":
        lines.append(f"  adapter {run['adapter_id']} was kept but not loaded")
    if run.get("error"):
        lines.append(f"  {run['error']}")
    return "\n".join(lines)


@train.command()
@click.option("--steps", type=click.IntRange(1, 100_000), help="Training steps ([train] steps).")
@click.option("--detach", is_flag=True, help="Start the run and return at once.")
@json_option
@pass_cli
@api_errors
def now(cli: CliContext, steps: int | None, detach: bool, as_json: bool) -> None:
    """Train now, on whatever hardware there is, and show progress until the gate decides.

    The conditions of scheduled runs (new examples, GPU, mains power) do not apply.
    Exit 0 when the eval gate decided (promoted or rejected), 1 when the run failed or was
    cancelled. With --json: the run document at the end ({"run": ...}); with --detach at
    the start.
    """
    with ensure_daemon(cli) as client:
        run = client.train_now(steps)["run"]
        if detach:
            if as_json:
                emit_json({"run": run})
            else:
                info(f"training run {run['id']} started: `cove train status` follows it")
            return
        run = _follow(client, run)
    if as_json:
        emit_json({"run": run})
    else:
        info(outcome_text(run))
    if run["status"] not in ("promoted", "rejected"):
        raise CommandError(f"training run {run['id']} {run['status']}")


def _follow(client, run: dict) -> dict:
    """Show the run's progress on stderr until it ends; returns the finished run."""
    live = sys.stderr.isatty()
    last_line = ""
    for event, data in client.train_events(run["id"]):
        if event != "run" or not isinstance(data, dict):
            continue
        run = data
        line = progress_line(run)
        if run["status"] != "running" or line == last_line:
            continue
        sys.stderr.write(("\r\033[K" + line[:160]) if live else line + "\n")
        sys.stderr.flush()
        last_line = line
    if live:
        sys.stderr.write("\n")
    if run["status"] == "running":  # the stream broke off: read where it stands
        run = client.train_run(run["id"])["run"]
    return run


@train.command()
@json_option
@pass_cli
@api_errors
def status(cli: CliContext, as_json: bool) -> None:
    """The run in progress, the latest runs, the schedule and the adapters.

    With --json: {"available", "run", "runs", "schedule", "conditions", "adapters",
    "active_adapter", "teach_folder"} (README, "Personal fine-tuning").
    """
    with running_client(cli) as client:
        doc = client.train_status()
    if as_json:
        emit_json(doc)
        return
    schedule = doc["schedule"]
    if schedule.get("enabled"):
        click.echo(f"schedule: every day at {schedule['time']} (next {schedule['next_run']})")
    else:
        click.echo("schedule: off (`cove train schedule 02:00` turns it on)")
    conditions = doc["conditions"] or {}
    click.echo(
        f"new examples since the last run: {conditions.get('new_examples', 0)} "
        f"(a scheduled run needs {conditions.get('min_new_examples', '?')})"
    )
    for reason in conditions.get("reasons", []):
        click.echo(f"  a scheduled run would wait: {reason}")
    if doc["run"]:
        click.echo("now: " + progress_line(doc["run"]))
    click.echo(f"active adapter: {doc['active_adapter'] or 'none'}")
    if doc["runs"]:
        click.echo("\nrecent runs:")
    for run in doc["runs"]:
        extra = run.get("error") or (run.get("adapter_id") or "")
        click.echo(
            f"  {run['id']}  {local_time(run['started_at'])}  {run['trigger']:<8} "
            f"{run['status']:<9} {extra}"
        )


@train.command()
@click.argument("time_of_day", metavar="HH:MM", required=False)
@click.option("--off", is_flag=True, help="Turn the nightly run off.")
@json_option
@pass_cli
@api_errors
def schedule(cli: CliContext, time_of_day: str | None, off: bool, as_json: bool) -> None:
    """Train every night at HH:MM (24-hour, local time), or turn it off with --off.

    A scheduled run starts only with enough new examples ([train] min_new_examples), a GPU
    (or [train] allow_cpu = true) and mains power; otherwise it is recorded as skipped,
    with the reason. Runs missed while the machine slept are made up once on waking.

    \b
      cove train schedule 02:00
      cove train schedule --off

    With --json: {"schedule": {"enabled", "time", "next_run"}}.
    """
    if off == bool(time_of_day):
        raise click.UsageError("give a time (e.g. 02:00) or --off")
    with ensure_daemon(cli) as client:
        doc = client.set_schedule(None, enabled=False) if off else client.set_schedule(time_of_day)
    if as_json:
        emit_json(doc)
    elif doc["schedule"]["enabled"]:
        planned = doc["schedule"]
        info(f"training every day at {planned['time']}; next: {planned['next_run']}")
    else:
        info("nightly training is off")


@train.command()
@json_option
@pass_cli
@api_errors
def cancel(cli: CliContext, as_json: bool) -> None:
    """Stop the run in progress (exit 1 when there is none)."""
    with running_client(cli) as client:
        doc = client.train_cancel()
    if as_json:
        emit_json(doc)
    else:
        info(f"stopping training run {doc['run']['id']}")


def register(group: click.Group) -> None:
    group.add_command(train)
