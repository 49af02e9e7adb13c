"""POST /v1/ingest/managed: the sidecar's (and any producer's) way in."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..answers import ErrorAnswer, IngestResult, Rejected
from ..auth import require
from ..batch import BodyError, parse_batch
from ..errors import ApiError
from .common import json_response, runtime

router = APIRouter(tags=["ingest"])
PATH = "/v1/ingest/managed"


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the body is {declared} bytes; the limit is {limit}", "body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the body exceeds the limit of {limit} bytes", "body")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    PATH,
    summary="Store a batch of events",
    description="Request body and answers are documented in openapi.py.",
)
async def ingest_managed(request: Request, _key: str | None = Depends(require("ingest"))) -> Response:
    rt = runtime(request)
    started = time.perf_counter()
    try:
        body = await read_body(request, rt.settings.max_body_bytes)
        now = datetime.now(UTC)
        try:
            good, problems = parse_batch(body, request.headers.get("content-encoding"), rt.settings, now)
        except BodyError as exc:
            raise ApiError(exc.status, exc.message, exc.field) from None
        rejected = [Rejected(p.index, p.field, p.message) for p in problems]
        rt.metrics.events.labels("rejected").inc(len(problems))
        if problems and not good:
            first = problems[0]
            message = (
                f"all {len(problems)} events were rejected; first: event {first.index} "
                f"field {first.field}: {first.message}"
            )
            return json_response(ErrorAnswer(message, first.field, 400, 0, 0, rejected), 400)
        seen = await rt.alerting.before_ingest(good)
        result = await rt.store.ingest(good, now) if good else None
        rt.alerting.after_ingest(good, seen)  # evaluates in a task: never fails or delays the ingest
        accepted = result.accepted if result else 0
        duplicates = result.duplicates if result else 0
        rt.metrics.events.labels("accepted").inc(accepted)
        rt.metrics.events.labels("duplicate").inc(duplicates)
        if rt.store.last_ingest_lag_s is not None:
            rt.metrics.ingest_lag.set(rt.store.last_ingest_lag_s)
        return json_response(IngestResult(accepted, duplicates, rejected))
    finally:
        # wafermon_gateway_batches_total is counted by MetricsMiddleware, under the status sent.
        rt.metrics.ingest_seconds.observe(time.perf_counter() - started)
