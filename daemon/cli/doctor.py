"""cove doctor: check the install and say what to fix."""

from __future__ import annotations

import click

from cove.daemon.cli.output import EXIT_ERROR, CliContext, emit_json, json_option, pass_cli


@click.command()
@json_option
@pass_cli
def doctor(cli: CliContext, as_json: bool) -> None:
    """Check models, llama.cpp, the port, COVE_HOME and permissions. Exit 1 on a problem."""
    from cove.daemon.ops.doctor import as_dict, run_checks

    checks = run_checks(cli.config)
    if as_json:
        emit_json(as_dict(checks))
    else:
        for check in checks:
            mark = "ok  " if check.ok else "FAIL"
            click.echo(f"[{mark}] {check.name:<11} {check.detail}")
            if check.fix:
                click.echo(f"       fix: {check.fix}")
    if not all(c.ok for c in checks):
        raise SystemExit(EXIT_ERROR)


def register(group: click.Group) -> None:
    group.add_command(doctor)
