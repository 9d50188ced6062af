"""cove feedback: rate or correct one of the assistant's answers."""

from __future__ import annotations

import click

from cove.daemon.cli.output import (
    CliContext,
    api_errors,
    emit_json,
    info,
    json_option,
    pass_cli,
    running_client,
)


@click.command()
@click.argument("message_id", metavar="MESSAGE_ID")
@click.argument("rating", type=click.Choice(["up", "down"]), required=False)
@click.option("--correct", "correction", metavar="TEXT", help="The answer you wanted.")
@click.option("--clear", is_flag=True, help="Remove the rating and the correction.")
@json_option
@pass_cli
@api_errors
def feedback(
    cli: CliContext,
    message_id: str,
    rating: str | None,
    correction: str | None,
    clear: bool,
    as_json: bool,
) -> None:
    """Rate or correct one of Cove's answers.

    Rate the answer MESSAGE_ID up or down, correct it, or clear its feedback.
    MESSAGE_ID is the `message_id` that `cove ask --json` returns (also shown by
    `cove sessions show`). A correction may come with or without a rating; what is not
    given is kept. Rated-up and corrected answers become examples for personal
    fine-tuning, the correction being the answer to learn.

    \b
      cove feedback m_1234 up
      cove feedback m_1234 down --correct "The ferry leaves at seven."
      cove feedback m_1234 --clear

    With --json: {"feedback": {"message_id", "rating", "correction", "created_at",
    "updated_at"}}, or {"message_id", "cleared", "training_examples_forgotten"} with
    --clear (rows dropped from stored training datasets).
    """
    if clear and (rating or correction is not None):
        raise click.UsageError("--clear takes no rating and no --correct")
    if not clear and rating is None and correction is None:
        raise click.UsageError("say `up`, `down`, --correct TEXT or --clear")
    with running_client(cli) as client:
        if clear:
            doc = client.clear_feedback(message_id)
        else:
            doc = client.set_feedback(message_id, rating, correction)
    if as_json:
        emit_json(doc)
    elif clear:
        info(
            f"cleared the feedback on {message_id}"
            if doc["cleared"]
            else f"{message_id} had no feedback"
        )
    else:
        stored = doc["feedback"]
        parts = [f"rated {stored['rating']}"] if stored["rating"] else []
        parts += ["corrected"] if stored["correction"] else []
        info(f"{message_id}: {' and '.join(parts)}")


def register(group: click.Group) -> None:
    group.add_command(feedback)
