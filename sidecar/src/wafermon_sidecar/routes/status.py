"""GET /v1/healthz, /v1/integrations, /metrics and /openapi.json."""

from __future__ import annotations

import time
from typing import Literal

import msgspec
from aiohttp import web

from .. import __version__
from ..answers import Health, IntegrationDetail, IntegrationHealth, Integrations, SpoolHealth
from ..openapi import OPENAPI
from ..responses import json_response
from ..state import SIDECAR


async def healthz(request: web.Request) -> web.Response:
    ctx = request.app[SIDECAR]
    spool = ctx.spool
    backends = await ctx.fanout.status()
    summary = [msgspec.convert(entry, IntegrationHealth) for entry in ctx.fanout.summary()]
    full = not spool.can_take(64 * 1024)
    healthy = all(i.status in ("healthy", "disabled") for i in summary)
    spool_health = SpoolHealth(
        path=str(spool.directory),
        bytes=spool.bytes,
        max_bytes=spool.max_bytes,
        segments=len(spool.segments),
        first_seq=spool.first_seq,
        next_seq=spool.next_seq,
        full=full,
    )
    uptime_s = round(time.time() - ctx.started_at, 3)
    status: Literal["ok", "degraded"] = "ok" if healthy and not full else "degraded"
    return json_response(200, Health(status, __version__, uptime_s, spool_health, summary, backends))


async def integrations(request: web.Request) -> web.Response:
    summary = request.app[SIDECAR].fanout.summary()
    return json_response(
        200,
        Integrations(
            total=len(summary),
            enabled=sum(1 for i in summary if i["enabled"]),
            integrations=[i["name"] for i in summary],
            enabled_integrations=[i["name"] for i in summary if i["enabled"]],
            details=[
                IntegrationDetail(i["name"], i["type"], i["enabled"], i["priority"], i["status"], i["state"])
                for i in summary
            ],
        ),
    )


async def metrics(request: web.Request) -> web.Response:
    ctx = request.app[SIDECAR]
    ctx.fanout.refresh_metrics()
    return web.Response(body=ctx.metrics.render(), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


async def openapi(request: web.Request) -> web.Response:
    return json_response(200, OPENAPI)
