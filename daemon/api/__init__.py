"""The daemon's HTTP API, built by a factory so tests can mount it on ASGITransport."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from cove.daemon import __version__
from cove.daemon.api.auth import require_token
from cove.daemon.api.errors import install_error_handlers
from cove.daemon.api.routes import (
    adapters,
    ask,
    files,
    folders,
    index,
    memories,
    messages,
    models,
    openai,
    search,
    sessions,
    status,
    teach,
    train,
)
from cove.daemon.api.state import DaemonState


def build_app(state: DaemonState) -> FastAPI:
    """The API for one daemon. Every route needs the bearer token; /openapi.json does not."""
    app = FastAPI(
        title="Cove",
        version=__version__,
        description="Cove's local API. Send `Authorization: Bearer <COVE_HOME/token>`.",
        docs_url=None,  # the docs pages load scripts from a CDN; Cove stays offline
        redoc_url=None,
    )
    app.state.cove = state
    install_error_handlers(app)
    routers = (status, ask, sessions, messages, models, openai, folders, files, search, index)
    for module in (*routers, train, adapters, teach, memories):
        app.include_router(module.router, dependencies=[Depends(require_token)])
    return app
