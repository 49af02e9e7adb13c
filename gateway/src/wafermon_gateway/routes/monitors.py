"""Schedule monitor API: /v1/monitors (admin to change, read to list) with each monitor's state."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..alerting.monitor_model import Monitor
from ..alerting.monitors import monitor_view
from ..auth import require
from ..errors import ApiError
from .alerting import _body, alerting
from .common import json_response

router = APIRouter(tags=["monitors"])
_ADMIN = Depends(require("admin"))
_READ = Depends(require("read"))


def _check(request: Request, m: Monitor) -> None:
    missing = [n for n in m.notify if n not in alerting(request).notifiers]
    if missing:
        raise ApiError(400, f"monitor {m.name!r} notifies unknown notifier(s): {', '.join(missing)}", "notify")


@router.get(
    "/v1/monitors",
    summary="Schedule monitors with their state (ok, missed, overdue, failing, too_often)"
    " and the latest refused monitor declarations from SDK code",
)
async def list_monitors(request: Request, _key: str | None = _READ) -> Response:
    service = alerting(request)
    rows = await service.monitors.rows()
    return json_response({"monitors": [monitor_view(r) for r in rows],
                          "declaration_errors": list(service.declaration_errors)})  # fmt: skip


@router.post("/v1/monitors", summary="Create a schedule monitor (409 if the name exists)")
async def create_monitor(request: Request, _key: str | None = _ADMIN) -> Response:
    m: Monitor = await _body(request, Monitor, "monitor")
    service = alerting(request)
    if await service.monitors.get(m.name) is not None:
        raise ApiError(409, f"monitor {m.name!r} exists; PUT /v1/monitors/{m.name} replaces it", "name")
    _check(request, m)
    await service.monitors.put(m, "api", datetime.now(UTC))
    row = await service.monitors.get(m.name)
    return json_response(monitor_view(row or {}), 201)


@router.get("/v1/monitors/{name}", summary="One schedule monitor and its state")
async def get_monitor(name: str, request: Request, _key: str | None = _READ) -> Response:
    row = await alerting(request).monitors.get(name)
    if row is None:
        raise ApiError(404, f"no monitor named {name!r}", "name")
    return json_response(monitor_view(row))


@router.put("/v1/monitors/{name}", summary="Create or replace a schedule monitor")
async def put_monitor(name: str, request: Request, _key: str | None = _ADMIN) -> Response:
    m: Monitor = await _body(request, Monitor, "monitor", name)
    _check(request, m)
    service = alerting(request)
    created = await service.monitors.put(m, "api", datetime.now(UTC))
    row = await service.monitors.get(m.name)
    return json_response(monitor_view(row or {}), 201 if created else 200)


@router.delete("/v1/monitors/{name}", summary="Delete a schedule monitor")
async def delete_monitor(name: str, request: Request, _key: str | None = _ADMIN) -> Response:
    service = alerting(request)
    if not await service.monitors.delete(name):
        raise ApiError(404, f"no monitor named {name!r}", "name")
    service.forget_declared(name)
    return Response(status_code=204)
