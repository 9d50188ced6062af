"""Every API error is JSON in OpenAI's shape: {"error": {"message", "type", "code"}}."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from cove.daemon.runtime import RuntimeErrorBase
from cove.daemon.sessions import MessageNotFoundError, SessionNotFoundError


def error_body(message: str, code: str, kind: str = "invalid_request_error") -> dict:
    return {"error": {"message": message, "type": kind, "code": code}}


class ApiError(Exception):
    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body') or 'body'}: {err['msg']}"
            for err in exc.errors()
        )
        return JSONResponse(error_body(f"invalid request: {problems}", "invalid_request"), 400)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, exc: HTTPException) -> JSONResponse:
        code = "unauthorized" if exc.status_code == 401 else f"http_{exc.status_code}"
        return JSONResponse(error_body(str(exc.detail), code), exc.status_code, headers=exc.headers)

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
