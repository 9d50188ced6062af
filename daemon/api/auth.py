"""Bearer-token authentication: every route but the OpenAPI spec needs COVE_HOME/token."""

from __future__ import annotations

import secrets

from fastapi import HTTPException, Request


def require_token(request: Request) -> None:
    expected: str = request.app.state.cove.token
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not secrets.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        raise HTTPException(
            status_code=401,
            detail="missing or wrong bearer token: send 'Authorization: Bearer <COVE_HOME/token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
