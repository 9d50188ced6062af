"""The daemon's HTTP API, built by a factory so tests can mount it on ASGITransport."""

from __future__ import annotations

from fastapi import Depends, FastAPI

from cove.daemon import __version__
from cove.daemon.api.auth import require_token
from cove.daemon.api.errors import install_error_handlers, responses
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
from cove.daemon.ops.hostcheck import LoopbackHostOnly


def build_app(state: DaemonState) -> FastAPI:
    """The API for one daemon. Every route needs the bearer token; /openapi.json does not.
    Every request, /openapi.json included, must name a loopback host (DNS rebinding)."""
    app = FastAPI(
        title="Cove",
        version=__version__,
        description="Cove's local API. Send `Authorization: Bearer <COVE_HOME/token>`.",
        docs_url=None,  # the docs pages load scripts from a CDN; Cove stays offline
        redoc_url=None,
    )
    app.state.cove = state
    # Outside routing and auth: a foreign Host is refused before anything else runs.
    app.add_middleware(LoopbackHostOnly, port=state.config.port)
    install_error_handlers(app)
    routers = (status, ask, sessions, messages, models, openai, folders, files, search, index)
    # Every route answers 401 without the token and 421 to a foreign Host header.
    guarded = responses(401, 421)
    for module in (*routers, train, adapters, teach, memories):
        app.include_router(module.router, dependencies=[Depends(require_token)], responses=guarded)
    return app
