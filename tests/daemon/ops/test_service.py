"""`cove service install|uninstall`: a systemd user unit, or a launchd agent on macOS."""

from __future__ import annotations

import json
import plistlib
import sys

from cove.daemon.ops.login_service import service_file
from tests.support.daemon import cove_env, free_port, run_cove


def test_install_writes_a_user_unit_for_this_home_and_uninstall_removes_it(tmp_path):
    home = tmp_path / "home"
    env = cove_env(home, free_port(), XDG_CONFIG_HOME=str(tmp_path / "xdg"))
    done = run_cove("service", "install", "--no-enable", "--json", env=env)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    unit = tmp_path / "xdg" / "systemd" / "user" / "cove.service"
    assert doc["path"] == str(unit) and doc["enabled"] is False
    text = unit.read_text()
    assert f"ExecStart={sys.executable} -m cove.daemon serve" in text
    assert f"Environment=COVE_HOME={home}" in text
    assert "WantedBy=default.target" in text

    removed = run_cove("service", "uninstall", "--json", env=env)
    assert json.loads(removed.stdout)["removed"] is True
    assert not unit.exists()


def test_install_without_systemctl_says_what_to_run(tmp_path):
    env = cove_env(
        tmp_path / "home", free_port(), XDG_CONFIG_HOME=str(tmp_path / "xdg"), PATH="/nonexistent"
    )
    done = run_cove("service", "install", "--json", env=env)
    doc = json.loads(done.stdout)
    assert doc["enabled"] is False
    assert "systemctl --user enable --now cove.service" in doc["detail"]


def test_macos_gets_a_launchd_agent(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    unit = service_file(tmp_path / "home", platform="darwin", python="/usr/bin/python3")
    assert unit.path == tmp_path / "Library" / "LaunchAgents" / "org.cove.daemon.plist"
    plist = plistlib.loads(unit.text.encode())
    assert plist["ProgramArguments"] == ["/usr/bin/python3", "-m", "cove.daemon", "serve"]
    assert plist["EnvironmentVariables"] == {"COVE_HOME": str(tmp_path / "home")}
    assert plist["RunAtLoad"] is True
    assert unit.enable == [["launchctl", "load", "-w", str(unit.path)]]
