"""cove service install | uninstall: start the daemon at login."""

from __future__ import annotations

import click

from cove.daemon.cli.output import CliContext, CommandError, emit_json, info, json_option, pass_cli


@click.group()
def service() -> None:
    """Start the daemon at login (systemd user unit, or launchd agent on macOS)."""


def _service_file(cli: CliContext):
    from cove.daemon.ops.login_service import service_file

    try:
        return service_file(cli.config.paths.home)
    except RuntimeError as exc:
        raise CommandError(str(exc)) from None


@service.command()
@click.option("--no-enable", is_flag=True, help="Only write the file; do not register it.")
@json_option
@pass_cli
def install(cli: CliContext, no_enable: bool, as_json: bool) -> None:
    """Write the unit file for this COVE_HOME and enable it."""
    from cove.daemon.ops.login_service import run_commands

    unit = _service_file(cli)
    unit.path.parent.mkdir(parents=True, exist_ok=True)
    unit.path.write_text(unit.text, encoding="utf-8")
    enabled, detail = (False, "not registered (--no-enable)")
    if not no_enable:
        enabled, detail = run_commands(unit.enable)
    if as_json:
        emit_json({"path": str(unit.path), "enabled": enabled, "detail": detail})
    else:
        info(f"wrote {unit.path}\n{detail}")


@service.command()
@json_option
@pass_cli
def uninstall(cli: CliContext, as_json: bool) -> None:
    """Disable and remove the unit file."""
    from cove.daemon.ops.login_service import run_commands

    unit = _service_file(cli)
    existed = unit.path.exists()
    detail = "no unit file was installed"
    if existed:
        _, detail = run_commands(unit.disable)
        unit.path.unlink()
    if as_json:
        emit_json({"path": str(unit.path), "removed": existed, "detail": detail})
    else:
        info(f"removed {unit.path}" if existed else detail)


def register(group: click.Group) -> None:
    group.add_command(service)
