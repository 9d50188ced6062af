"""Every file Cove keeps lives under one directory, COVE_HOME.

The layout is fixed here so the daemon, the CLI and the tests agree on it.
"""

from __future__ import annotations

import itertools
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import platformdirs

HOME_ENV = "COVE_HOME"
TOKEN_MODE = 0o600
# Group and other: no one but the user may read, write or enter anything under COVE_HOME.
OTHERS = 0o077


def default_home() -> Path:
    """COVE_HOME if set, else the platform's user data dir (e.g. ~/.local/share/cove)."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override).expanduser().resolve()
    return Path(platformdirs.user_data_dir("cove", appauthor=False))


@dataclass(frozen=True)
class CovePaths:
    """Named locations under COVE_HOME."""

    home: Path

    @property
    def config(self) -> Path:
        return self.home / "config.toml"

    @property
    def db(self) -> Path:
        return self.home / "cove.db"

    @property
    def chroma(self) -> Path:
        return self.home / "chroma"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs / "cove.log"

    @property
    def daemon_out(self) -> Path:
        """stdout/stderr of a background daemon (start-up crashes land here)."""
        return self.logs / "daemon.out"

    @property
    def network_log(self) -> Path:
        return self.logs / "network.log"

    @property
    def adapters(self) -> Path:
        return self.home / "adapters"

    @property
    def models(self) -> Path:
        """Extra GGUF files dropped here are offered by `cove models list`."""
        return self.home / "models"

    @property
    def onnx_models(self) -> Path:
        """ONNX exports of the embedding model (`[embeddings] backend = "onnx"`, "onnx-int8")."""
        return self.models / "onnx"

    @property
    def hf_models(self) -> Path:
        """The chat GGUF converted to an HF model once, as the fine-tuning base."""
        return self.models / "hf"

    @property
    def teach(self) -> Path:
        """The user's Q&A files for fine-tuning (`cove teach`), unless configured elsewhere."""
        return self.home / "teach"

    @property
    def training(self) -> Path:
        """One folder per training run: its dataset, trainer log, events and adapter."""
        return self.home / "training"

    @property
    def scheduler_db(self) -> Path:
        """APScheduler's job store (the nightly training schedule)."""
        return self.home / "scheduler.db"

    @property
    def token(self) -> Path:
        return self.home / "token"

    @property
    def daemon_json(self) -> Path:
        return self.home / "daemon.json"

    @property
    def lock(self) -> Path:
        return self.home / "daemon.lock"

    def ensure(self) -> None:
        """Create COVE_HOME and its sub-directories (private to the user)."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        for sub in (self.chroma, self.logs, self.adapters, self.models):
            sub.mkdir(exist_ok=True, mode=0o700)


def private_umask() -> None:
    """Create every file and folder of this process private to the user (umask 077).

    Every entry point calls it (the `cove` CLI, `cove serve`, the MCP server, the trainer
    child): COVE_HOME holds every chat, and whichever command runs first creates it.
    """
    os.umask(OTHERS)


def home_name(path: Path, home: Path) -> str:
    """`path` as a user reads it in a message: relative to COVE_HOME, or "COVE_HOME"."""
    return "COVE_HOME" if path == home else str(path.relative_to(home))


def _own_entries(home: Path) -> Iterator[tuple[Path, int, int, str]]:
    """(path, mode, dir_fd, name) of everything under `home`, a folder before its contents.

    Symlinks are left out and never followed: what they point at is not Cove's to change
    (a symlinked folder is listed by fwalk but not entered).
    """
    for root, dirs, files, root_fd in os.fwalk(home, follow_symlinks=False):
        for name in dirs + files:
            try:
                info = os.stat(name, dir_fd=root_fd, follow_symlinks=False)
            except FileNotFoundError:
                continue  # removed since the folder was listed
            if not stat.S_ISLNK(info.st_mode):
                yield Path(root, name), stat.S_IMODE(info.st_mode), root_fd, name


def open_to_others(home: Path) -> list[tuple[Path, int]]:
    """COVE_HOME itself and every file or folder under it that group or other may access."""
    home = home.resolve()
    if not home.is_dir():
        return []
    mode = stat.S_IMODE(home.stat().st_mode)
    found = [(home, mode)] if mode & OTHERS else []
    found += [(path, mode) for path, mode, _, _ in _own_entries(home) if mode & OTHERS]
    return found


def tighten_home(home: Path) -> tuple[list[Path], list[str]]:
    """Take group and other access away from COVE_HOME and everything under it (go-rwx).

    Returns (what was tightened, why some could not be). Top-down: a folder is private
    before its entries are changed, so no other user can swap one for a symlink meanwhile;
    symlinks themselves are skipped, so nothing outside COVE_HOME (a watched folder) changes.
    """
    home = home.resolve()
    changed: list[Path] = []
    failed: list[str] = []
    mode = stat.S_IMODE(home.stat().st_mode)
    entries = [(home, mode, None, str(home))] if mode & OTHERS else []
    for path, mode, dir_fd, name in itertools.chain(entries, _own_entries(home)):
        if not mode & OTHERS:
            continue
        try:
            os.chmod(name, mode & ~OTHERS, dir_fd=dir_fd)
        except OSError as exc:  # e.g. a file another user owns
            failed.append(f"{path}: {exc.strerror}")
        else:
            changed.append(path)
    return changed, failed


def ensure_token(path: Path) -> str:
    """Return the API token, creating it (mode 0600) on first use.

    An existing token file with looser permissions is tightened rather than trusted as is.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, TOKEN_MODE)
    except FileExistsError:
        if path.stat().st_mode & 0o777 != TOKEN_MODE:
            path.chmod(TOKEN_MODE)
        token = path.read_text().strip()
        if token:
            return token
        path.unlink()
        return ensure_token(path)
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    return token
