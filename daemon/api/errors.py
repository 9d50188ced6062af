"""Every API error is JSON in OpenAI's shape: {"error": {"message", "type", "code"}}.

The OpenAPI spec says so too: each route declares the error statuses it can answer with
`responses=responses(...)`, every one with the `ErrorDocument` model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from cove.daemon.ingest.diskspace import out_of_space
from cove.daemon.records.sessions import MessageNotFoundError, SessionNotFoundError
from cove.daemon.runtime import RuntimeErrorBase


class ErrorDetail(BaseModel):
    message: str = Field(description="what went wrong, for a person")
    type: str = Field(description="the kind of error, e.g. invalid_request_error")
    code: str = Field(description="a stable code for programs, e.g. session_not_found")


class ErrorDocument(BaseModel):
    """The body of every error answer."""

    error: ErrorDetail


# What each status means wherever a route answers it; `responses(notes=...)` says more.
STATUS_MEANINGS = {
    400: "Invalid request: a parameter or the body failed validation, or was refused",
    401: "Missing or wrong bearer token: send `Authorization: Bearer <COVE_HOME/token>`",
    403: "Forbidden",
    404: "Not found",
    409: "Conflicts with the current state",
    421: "The Host header names another server, not this daemon on loopback",
    502: "Ollama failed",
    503: "Not available in this daemon, or its backend cannot be reached",
}


def responses(*statuses: int, notes: Mapping[int, str] | None = None) -> dict[int | str, Any]:
    """The `responses=` of a route: each error status it answers, with the error document."""
    notes = notes or {}
    return {
        status: {
            "model": ErrorDocument,
            "description": notes.get(status, STATUS_MEANINGS[status]),
        }
        for status in statuses
    }


def error_body(message: str, code: str, kind: str = "invalid_request_error") -> dict:
    return {"error": {"message": message, "type": kind, "code": code}}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def allowed_methods(spec: dict, path: str) -> str | None:
    """The methods the spec declares for `path` ("DELETE, GET"), or None if no path
    template matches. A literal segment wins over a parameter, as in routing:
    /api/adapters/rollback is that path's, not /api/adapters/{adapter_id}'s."""
    segments = path.strip("/").split("/")
    best: tuple[tuple[bool, ...], dict] | None = None
    for template, operations in spec.get("paths", {}).items():
        parts = template.strip("/").split("/")
        if len(parts) != len(segments):
            continue
        params = tuple(part.startswith("{") for part in parts)
        fits = all(p or part == seg for p, part, seg in zip(params, parts, segments, strict=True))
        if fits and (best is None or params < best[0]):
            best = (params, operations)
    return ", ".join(sorted(method.upper() for method in best[1])) if best else None


def _spec_without_422(app: FastAPI) -> None:
    """Validation errors answer 400 with the error document (below), so the 422 and its
    HTTPValidationError that FastAPI writes into every operation with parameters go."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = build()  # FastAPI keeps it as app.openapi_schema: cleaned once, in place
            for operations in spec.get("paths", {}).values():
                for operation in operations.values():
                    operation.get("responses", {}).pop("422", None)
            schemas = spec.get("components", {}).get("schemas", {})
            for name in ("HTTPValidationError", "ValidationError"):
                schemas.pop(name, None)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error with the error document, and make the spec say so."""
    _spec_without_422(app)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # POST /api/index/status reaches POST /api/index/{action} and fails its validation,
        # but the path is GET /api/index/status's (a literal segment wins): 405, as routing
        # would answer had no parameter matched.
        allow = allowed_methods(request.app.openapi(), request.url.path)
        if allow and request.method not in allow.split(", "):
            message = f"{request.method} is not allowed here; use {allow}"
            return JSONResponse(error_body(message, "http_405"), 405, headers={"Allow": allow})
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body') or 'body'}: {err['msg']}"
            for err in exc.errors()
        )
        return JSONResponse(error_body(f"invalid request: {problems}", "invalid_request"), 400)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = "unauthorized" if exc.status_code == 401 else f"http_{exc.status_code}"
        headers = exc.headers
        if exc.status_code == 405:
            # Routing names only the first route whose path matched; Allow lists them all.
            allow = allowed_methods(request.app.openapi(), request.url.path)
            headers = {**(headers or {}), "Allow": allow} if allow else headers
        return JSONResponse(error_body(str(exc.detail), code), exc.status_code, headers=headers)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(str(exc), exc.code), exc.status)

    @app.exception_handler(RuntimeErrorBase)
    async def runtime_error(_: Request, exc: RuntimeErrorBase) -> JSONResponse:
        return JSONResponse(error_body(str(exc), exc.code), exc.status)

    @app.exception_handler(SessionNotFoundError)
    async def no_session(_: Request, exc: SessionNotFoundError) -> JSONResponse:
        return JSONResponse(error_body(str(exc), "session_not_found"), 404)

    @app.exception_handler(MessageNotFoundError)
    async def no_message(_: Request, exc: MessageNotFoundError) -> JSONResponse:
        return JSONResponse(error_body(str(exc), "message_not_found"), 404)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        # A write the disk refused (a session, a memory, a taught fact) is the user's to
        # fix, and nothing was half-written: say so, as a rebuild does, not "500".
        if out_of_space(exc):
            message = f"no space left on device under COVE_HOME; free some and retry ({exc})"
            return JSONResponse(error_body(message, "no_space", "server_error"), 503)
        message = f"internal error: {type(exc).__name__}: {exc} (the daemon log has details)"
        return JSONResponse(error_body(message, "internal_error", "server_error"), 500)
