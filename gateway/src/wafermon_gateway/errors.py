"""One JSON error shape for every 4xx/5xx: {"error": message, "field": name-or-null, "status": code}.

Framework errors (unknown route, wrong path parameter type) are mapped onto it too, so a client
parses one shape, and nothing escapes as an HTML page or a bare 500 traceback.
"""

from __future__ import annotations

import logging
import sqlite3

import asyncpg
import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from .answers import ErrorAnswer

log = logging.getLogger("wafermon.gateway")
STORE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    sqlite3.OperationalError,
)


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers


def error_response(
    status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    body = msgspec.json.encode(ErrorAnswer(message, field, status))
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.message, exc.field, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        # Our words, not the framework's: only the location and the value are taken from its report.
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        if first.get("type") == "missing":
            return error_response(400, f"{field or 'a parameter'} is required", field)
        value = first.get("input")
        shown = f" {value!r:.80}" if isinstance(value, str | int | float) else ""
        return error_response(400, f"{field or 'the request'} has an invalid value{shown}; see /docs", field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(exc.status_code, str(exc.detail), None, dict(exc.headers or {}) or None)

    async def _unavailable(_request: Request, exc: Exception) -> Response:
        # The database is down or unreachable: a producer should retry (the sidecar does on 5xx).
        log.warning("store unavailable: %s: %s", type(exc).__name__, exc)
        return error_response(503, f"store unavailable: {type(exc).__name__}", None, {"Retry-After": "5"})

    for unavailable in STORE_UNAVAILABLE:
        app.add_exception_handler(unavailable, _unavailable)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> Response:
        log.exception("unhandled error: %s", exc)
        return error_response(500, "internal error; see the gateway log")
