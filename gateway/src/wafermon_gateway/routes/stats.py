"""GET /v1/stats/overview and /v1/stats/history: the dashboard's aggregates (read scope)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from ..auth import require
from ..errors import ApiError
from ..query import QueryError
from ..stats import history_view, overview_view
from .common import json_response, runtime

router = APIRouter(tags=["dashboard"])

_SINCE = Query(None, description="RFC 3339 start of the range (jobs created at or after)")
_UNTIL = Query(None, description="RFC 3339 end of the range (default now)")
_SITE = Query(None, description="exact site id")
_APP = Query(None, description="exact application name")
_BKEY = Query(None, description="exact business key")


@router.get("/v1/stats/overview", summary="Counts by status per site and app, a time series, top apps")
async def stats_overview(
    request: Request,
    since: str | None = _SINCE,
    until: str | None = _UNTIL,
    window: str | None = Query(None, description="instead of since: e.g. 1h, 24h, 7d (default 24h)"),
    site_id: str | None = _SITE,
    app: str | None = _APP,
    business_key: str | None = _BKEY,
    _key: str | None = Depends(require("read")),
) -> Response:
    try:
        body = await overview_view(runtime(request).store, request.query_params, datetime.now(UTC))
    except QueryError as exc:
        raise ApiError(400, exc.message, exc.field) from None
    return json_response(body)


@router.get("/v1/stats/history", summary="Duration, CPU and memory percentiles per bucket; failures by type")
async def stats_history(
    request: Request,
    since: str | None = _SINCE,
    until: str | None = _UNTIL,
    window: str | None = Query(None, description="instead of since: e.g. 7d, 30d, 12w (default 30d)"),
    site_id: str | None = _SITE,
    app: str | None = _APP,
    business_key: str | None = _BKEY,
    bucket: str | None = Query(None, description="hour, day or week (default day)"),
    _key: str | None = Depends(require("read")),
) -> Response:
    try:
        body = await history_view(runtime(request).store, request.query_params, datetime.now(UTC))
    except QueryError as exc:
        raise ApiError(400, exc.message, exc.field) from None
    return json_response(body)
