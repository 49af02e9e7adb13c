"""GET /v1/stats/overview and /v1/stats/history: the dashboard's aggregates (read scope)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.datastructures import QueryParams
from starlette.responses import Response

from ..auth import require
from ..errors import ApiError
from ..query import QueryError
from ..stats import history_view, overview_view
from ..store.base import Store
from .common import json_response, runtime

router = APIRouter(tags=["dashboard"])


@dataclass
class _Scope:
    """The parameters both endpoints share, declared for the OpenAPI document only: stats.parse_scope
    parses the query string itself, strictly (unknown or repeated parameters are a 400)."""

    since: str | None = Query(None, description="RFC 3339 start of the range (jobs created at or after)")
    until: str | None = Query(None, description="RFC 3339 end of the range (default now)")
    window: str | None = Query(None, description="instead of since: e.g. 1h, 24h, 7d, 12w (default 24h; history 30d)")
    site_id: str | None = Query(None, description="exact site id")
    app: str | None = Query(None, description="exact application name")
    business_key: str | None = Query(None, description="exact business key")


_SCOPE = Depends(_Scope)
View = Callable[[Store, QueryParams, datetime], Awaitable[dict[str, Any]]]


async def _answer(request: Request, view: View) -> Response:
    try:
        body = await view(runtime(request).store, request.query_params, datetime.now(UTC))
    except QueryError as exc:
        raise ApiError(400, exc.message, exc.field) from None
    return json_response(body)


@router.get("/v1/stats/overview", summary="Counts by status per site and app, a time series, top apps")
async def stats_overview(
    request: Request, _scope: _Scope = _SCOPE, _key: str | None = Depends(require("read"))
) -> Response:
    return await _answer(request, overview_view)


@router.get("/v1/stats/history", summary="Duration, CPU and memory percentiles per bucket; failures by type")
async def stats_history(
    request: Request,
    _scope: _Scope = _SCOPE,
    bucket: str | None = Query(None, description="hour, day or week (default day)"),
    _key: str | None = Depends(require("read")),
) -> Response:
    return await _answer(request, history_view)
