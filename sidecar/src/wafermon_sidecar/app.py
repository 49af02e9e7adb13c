"""The app factory: routes, and the spool + delivery workers opened and closed by the app's lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from aiohttp import web

from . import validation
from .answers import ErrorAnswer
from .config import Settings
from .fanout import FanOut
from .heartbeat import Heartbeat
from .metrics import Metrics
from .responses import json_response
from .routes import ingest, status
from .spool import Spool
from .state import SIDECAR, Sidecar
from .validation import Validator

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def errors_as_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as JSON; an unexpected one is logged, never shown as a traceback."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        keep = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after", "www-authenticate")}
        return json_response(exc.status, ErrorAnswer(exc.reason), headers=keep)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_response(500, ErrorAnswer("internal error; see the sidecar log"))


def build_sidecar(settings: Settings) -> Sidecar:
    """Everything that can fail on bad configuration, before a port is bound or a file opened."""
    if settings.ingest.validation_workers is not None:
        log.warning(
            "ingest.validation_workers (WAFERMON_SIDECAR_VALIDATION_WORKERS) is deprecated and ignored: "
            "validation worker processes were removed (the native check made them slower); remove the key"
        )
    validation.self_check()
    metrics = Metrics()
    spool = Spool(
        Path(settings.spool.path) / "segments",
        settings.spool.max_bytes,
        settings.spool.segment_bytes,
        settings.spool.reserve_bytes,
        Path(settings.spool.path) / "deadletter",
    )
    fanout = FanOut(settings, spool, metrics)
    return Sidecar(settings, spool, fanout, metrics, Validator())


def create_app(settings: Settings, sidecar: Sidecar | None = None) -> web.Application:
    ctx = sidecar or build_sidecar(settings)
    # A request body is refused once it passes the limit (checked again after gzip in body.py).
    app = web.Application(client_max_size=settings.ingest.max_body_bytes, middlewares=[errors_as_json])
    app[SIDECAR] = ctx
    app.router.add_post("/v1/ingest/events:batch", ingest.ingest_batch)
    app.router.add_post("/v1/ingest/events", ingest.ingest_one)
    app.router.add_get("/v1/healthz", status.healthz)
    app.router.add_get("/v1/integrations", status.integrations)
    app.router.add_get("/metrics", status.metrics)
    app.router.add_get("/openapi.json", status.openapi)
    app.cleanup_ctx.append(_lifespan)
    return app


async def _lifespan(app: web.Application) -> AsyncIterator[None]:
    ctx = app[SIDECAR]
    highest_cursor = ctx.fanout.load_cursors()
    ctx.spool.open(min_next_seq=highest_cursor)
    ctx.metrics.spool_records_skipped.inc(ctx.spool.skipped_records)
    ctx.metrics.spool_bytes_skipped.inc(ctx.spool.skipped_bytes)
    ctx.metrics.spool_events_skipped.inc(ctx.spool.skipped_events)
    ctx.metrics.spool_bytes_truncated.inc(ctx.spool.truncated_bytes)
    log.info(
        "spool %s: %d segment(s), %d bytes, events %d..%d",
        ctx.spool.directory,
        len(ctx.spool.segments),
        ctx.spool.bytes,
        ctx.spool.first_seq,
        ctx.spool.next_seq,
    )
    ctx.fanout.start()
    ctx.fanout.refresh_metrics()
    await ctx.validator.start()
    heartbeat = Heartbeat(ctx.spool, ctx.fanout.workers, Path(ctx.settings.spool.path), ctx.started_at)
    heartbeat.start()
    yield
    await heartbeat.stop()
    ctx.validator.close()
    await ctx.fanout.stop()
    await ctx.spool.close()
