"""cove teach: add a question and its answer for personal fine-tuning."""

from __future__ import annotations

import click

from cove.daemon.cli.output import (
    CliContext,
    CommandError,
    emit_json,
    info,
    json_option,
    pass_cli,
)
from cove.daemon.ingest.diskspace import out_of_space
from cove.finetune.teach import teach as append_pair


@click.command()
@click.argument("question")
@click.argument("answer")
@json_option
@pass_cli
def teach(cli: CliContext, question: str, answer: str, as_json: bool) -> None:
    """Teach Cove a fact: QUESTION and the ANSWER you want.

    The pair is appended to the teach folder ([train] teach_folder, by default
    COVE_HOME/teach/cove-teach.jsonl); the next training run learns it. The folder also
    takes your own JSONL or Markdown Q:/A: files (README). No daemon is needed.

    \b
      cove teach "What is my cat called?" "Your cat is called Pixel."

    With --json: {"taught": {"path", "line"}, "question", "answer"}; on a failed write
    (exit 1), {"error": {"message", "code"}}, code "no_space" for a full disk.
    """
    try:
        written = append_pair(cli.config.teach_folder, question, answer)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    except OSError as exc:  # nothing was written (teach() truncates a partial line)
        full = out_of_space(exc)
        code = "no_space" if full else "write_failed"
        message = (
            f"no space left on device: nothing was taught ({exc})"
            if full
            else f"could not write to the teach folder: {exc}"
        )
        if as_json:
            emit_json({"error": {"message": message, "code": code}})
        raise CommandError(message) from None
    if as_json:
        emit_json({"taught": written, "question": question.strip(), "answer": answer.strip()})
    else:
        where = f"{written['path']} (line {written['line']})"
        info(f"taught: added to {where}; the next `cove train now` learns it")


def register(group: click.Group) -> None:
    group.add_command(teach)
