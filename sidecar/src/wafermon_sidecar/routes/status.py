"""GET /v1/healthz, /v1/integrations, /metrics and /openapi.json."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from .. import __version__
from ..openapi import OPENAPI
from ..responses import json_response
from ..state import SIDECAR


async def healthz(request: web.Request) -> web.Response:
    ctx = request.app[SIDECAR]
    spool = ctx.spool
    backends = await ctx.fanout.status()
    full = not spool.can_take(64 * 1024)
    healthy = all(b["state"] in ("ok", "disabled") for b in backends.values())
    body: dict[str, Any] = {
        "status": "ok" if healthy and not full else "degraded",
        "version": __version__,
        "uptime_s": round(time.time() - ctx.started_at, 3),
        "spool": {
            "path": str(spool.directory),
            "bytes": spool.bytes,
            "max_bytes": spool.max_bytes,
            "segments": len(spool.segments),
            "first_seq": spool.first_seq,
            "next_seq": spool.next_seq,
            "full": full,
        },
        "backends": backends,
    }
    return json_response(200, body)


async def integrations(request: web.Request) -> web.Response:
    settings = request.app[SIDECAR].settings
    names = [b.name for b in settings.backends]
    enabled = [b.name for b in settings.backends if b.enabled]
    details = [
        {"name": b.name, "type": b.type, "enabled": b.enabled, "priority": b.priority} for b in settings.backends
    ]
    return json_response(
        200,
        {
            "total": len(names),
            "enabled": len(enabled),
            "integrations": names,
            "enabled_integrations": enabled,
            "details": details,
        },
    )


async def metrics(request: web.Request) -> web.Response:
    ctx = request.app[SIDECAR]
    ctx.fanout.refresh_metrics()
    return web.Response(body=ctx.metrics.render(), headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


async def openapi(request: web.Request) -> web.Response:
    return json_response(200, OPENAPI)
