"""The lifecycle owner's building blocks: the home lock, rotated logs, the port check."""

from __future__ import annotations

import logging
import socket
from logging.handlers import RotatingFileHandler

import pytest

from cove.daemon.config import load_config
from cove.daemon.serve import DaemonStartError, check_port_free, home_lock, setup_logging


def test_the_home_lock_admits_one_daemon(tmp_path):
    lock = tmp_path / "daemon.lock"
    with home_lock(lock), pytest.raises(DaemonStartError, match="already runs"), home_lock(lock):
        pass
    with home_lock(lock):  # released on exit
        pass


def test_logs_are_rotated_under_logs(tmp_path):
    config = load_config(tmp_path, environ={})
    config.paths.ensure()
    setup_logging(config, foreground=False)
    try:
        handlers = logging.getLogger().handlers
        assert len(handlers) == 1 and isinstance(handlers[0], RotatingFileHandler)
        assert handlers[0].baseFilename == str(tmp_path / "logs" / "cove.log")
        assert handlers[0].maxBytes > 0 and handlers[0].backupCount >= 1
    finally:
        logging.basicConfig(force=True, handlers=[logging.NullHandler()])


def test_a_taken_port_is_reported(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        with pytest.raises(DaemonStartError, match="in use"):
            check_port_free(squatter.getsockname()[1])
