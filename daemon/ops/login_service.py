"""Start the daemon at login: a systemd user unit on Linux, a launchd agent on macOS."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

UNIT_NAME = "cove.service"
AGENT_LABEL = "org.cove.daemon"


@dataclass(frozen=True)
class ServiceFile:
    path: Path
    text: str
    enable: list[list[str]]  # commands that register and start it
    disable: list[list[str]]


def systemd_unit(python: str, home: Path) -> str:
    return f"""[Unit]
Description=Cove, the offline personal assistant (daemon)
Documentation=cove --help

[Service]
Type=simple
ExecStart={python} -m cove.daemon serve
Environment=COVE_HOME={home}
Restart=on-failure
RestartSec=5
# The daemon stops itself cleanly on SIGTERM.
KillSignal=SIGTERM
TimeoutStopSec=30

[Install]
WantedBy=default.target
"""


def launchd_plist(python: str, home: Path) -> str:
    return plistlib.dumps(
        {
            "Label": AGENT_LABEL,
            "ProgramArguments": [python, "-m", "cove.daemon", "serve"],
            "EnvironmentVariables": {"COVE_HOME": str(home)},
            "RunAtLoad": True,
            "KeepAlive": {"SuccessfulExit": False},
            "StandardOutPath": str(home / "logs" / "daemon.out"),
            "StandardErrorPath": str(home / "logs" / "daemon.out"),
        }
    ).decode()


def service_file(
    home: Path, platform: str = sys.platform, python: str = sys.executable
) -> ServiceFile:
    """The unit (or plist) for this platform, where it goes, and how to (de)register it."""
    if platform == "darwin":
        path = Path.home() / "Library" / "LaunchAgents" / f"{AGENT_LABEL}.plist"
        return ServiceFile(
            path,
            launchd_plist(python, home),
            enable=[["launchctl", "load", "-w", str(path)]],
            disable=[["launchctl", "unload", "-w", str(path)]],
        )
    if platform.startswith("linux"):
        config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
        path = config_home / "systemd" / "user" / UNIT_NAME
        return ServiceFile(
            path,
            systemd_unit(python, home),
            enable=[
                ["systemctl", "--user", "daemon-reload"],
                ["systemctl", "--user", "enable", "--now", UNIT_NAME],
            ],
            disable=[["systemctl", "--user", "disable", "--now", UNIT_NAME]],
        )
    raise RuntimeError(f"no login service for platform {platform!r}: run `cove start` instead")


def run_commands(commands: list[list[str]]) -> tuple[bool, str]:
    """Run the (de)registration commands; (False, why) when the service manager is absent."""
    for command in commands:
        if shutil.which(command[0]) is None:
            return False, f"{command[0]} not found; run by hand: " + " && ".join(
                " ".join(c) for c in commands
            )
        done = subprocess.run(command, capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            return False, f"`{' '.join(command)}` failed: {(done.stderr or done.stdout).strip()}"
    return True, "registered with " + commands[0][0]
