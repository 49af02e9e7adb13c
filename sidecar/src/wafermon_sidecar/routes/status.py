"""GET /v1/healthz, /v1/integrations, /metrics and /openapi.json."""

from __future__ import annotations

import time
from typing import Literal

from aiohttp import web

from .. import __version__
from ..answers import Health, IntegrationDetail, Integrations, SpoolHealth
from ..openapi import OPENAPI
from ..responses import json_response
from ..state import SIDECAR


async def healthz(request: web.Request) -> web.Response:
    ctx = request.app[SIDECAR]
    spool = ctx.spool
    backends = await ctx.fanout.status()
    full = not spool.can_take(64 * 1024)
    healthy = all(b["state"] in ("ok", "disabled") for b in backends.values())
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
    return json_response(200, Health(status, __version__, uptime_s, spool_health, backends))


async def integrations(request: web.Request) -> web.Response:
    backends = request.app[SIDECAR].settings.backends
    return json_response(
        200,
        Integrations(
            total=len(backends),
            enabled=sum(1 for b in backends if b.enabled),
            integrations=[b.name for b in backends],
            enabled_integrations=[b.name for b in backends if b.enabled],
            details=[IntegrationDetail(b.name, b.type, b.enabled, b.priority) for b in backends],
        ),
    )


async def metrics(request: web.Request) -> web.Response:
    ctx = request.app[SIDECAR]
    ctx.fanout.refresh_metrics()
    return web.Response(body=ctx.metrics.render(), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


async def openapi(request: web.Request) -> web.Response:
    return json_response(200, OPENAPI)
