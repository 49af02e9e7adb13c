"""POST /v1/ingest/events:batch and POST /v1/ingest/events.

202: every event accepted and fsync'd on the spool. 207: the good ones accepted (and fsync'd), the bad
ones listed with index and field. 400: nothing usable. 413: too big (for ingest's limits, or for the spool
or its disk: it can never fit). 503 + Retry-After: the spool is
full or its disk refused the write; nothing of that request was acknowledged, send it again later.
"""

from __future__ import annotations

import time

from aiohttp import web

from ..answers import ErrorAnswer, IngestResult, Rejected
from ..auth import check_bearer
from ..body import BodyError, read_body
from ..responses import json_response
from ..spool import SpoolDiskError, SpoolFull, SpoolTooLarge
from ..state import SIDECAR, Sidecar
from ..validation import BatchFormatError, Verdict


async def ingest_batch(request: web.Request) -> web.Response:
    return await _ingest(request, single=False)


async def ingest_one(request: web.Request) -> web.Response:
    return await _ingest(request, single=True)


async def _ingest(request: web.Request, single: bool) -> web.Response:
    started = time.perf_counter()
    ctx = request.app[SIDECAR]
    try:
        return await _handle(request, ctx, single)
    finally:
        route = "events" if single else "events:batch"
        ctx.metrics.latency.labels(route).observe(time.perf_counter() - started)


async def _handle(request: web.Request, ctx: Sidecar, single: bool) -> web.Response:
    ingest = ctx.settings.ingest
    denied = check_bearer(request, ingest.auth_token)
    if denied is not None:
        ctx.metrics.refused.labels("auth").inc()
        return denied
    try:
        body = await read_body(request, ingest.max_body_bytes)
    except BodyError as exc:
        ctx.metrics.refused.labels("body").inc()
        return json_response(exc.status, ErrorAnswer(str(exc), 0, []))
    if single:
        if body.lstrip()[:1] != b"{":
            return _bad("this endpoint takes one JSON event object; send batches to /v1/ingest/events:batch")
        body = b"[" + body + b"]"  # an array of one: a pretty-printed object stays one item
    try:
        verdict = await ctx.validator.judge(body)
    except BatchFormatError as exc:
        ctx.metrics.refused.labels("format").inc()
        return _bad(str(exc))
    ctx.metrics.received.inc(verdict.total)
    if verdict.total > ingest.max_events_per_request:
        ctx.metrics.refused.labels("too_many").inc()
        message = (
            f"the batch has {verdict.total} events; the limit is {ingest.max_events_per_request} "
            "(ingest.max_events_per_request)"
        )
        return json_response(413, ErrorAnswer(message, 0, []))
    rejected = [Rejected(p.index, p.field, p.message) for p in verdict.problems]
    ctx.metrics.rejected.inc(len(rejected))
    if verdict.total == 0:
        return _bad("the batch holds no events")
    if verdict.accepted == 0:
        return _bad(f"none of the {verdict.total} event(s) is valid", rejected)
    refusal = await _spool(ctx, verdict)
    if refusal is not None:
        return refusal
    return json_response(207 if rejected else 202, IngestResult(verdict.accepted, rejected))


async def _spool(ctx: Sidecar, verdict: Verdict) -> web.Response | None:
    retry_after = str(ctx.settings.spool.retry_after_s)
    try:
        await ctx.spool.append(verdict.payload, verdict.accepted)
    except SpoolTooLarge as exc:
        ctx.metrics.refused.labels("too_large").inc()
        return json_response(413, ErrorAnswer(str(exc), 0, []))
    except SpoolFull as exc:
        ctx.metrics.refused.labels("spool_full").inc()
        message = f"{exc}; retry after {retry_after}s (spool.max_size_mb={ctx.settings.spool.max_size_mb})"
        return json_response(503, ErrorAnswer(message, 0, []), {"Retry-After": retry_after})
    except SpoolDiskError as exc:
        ctx.metrics.refused.labels("disk_error").inc()
        return json_response(503, ErrorAnswer(str(exc), 0, []), {"Retry-After": retry_after})
    ctx.metrics.spooled.inc(verdict.accepted)
    return None


def _bad(error: str, rejected: list[Rejected] | None = None) -> web.Response:
    return json_response(400, ErrorAnswer(error, 0, rejected or []))
