"""POST /v1/ingest/managed: the sidecar's (and any producer's) way in."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..auth import require
from ..batch import BodyError, parse_batch
from ..errors import ApiError
from .common import json_response, runtime

router = APIRouter(tags=["ingest"])

_BODY_DOC = {
    "requestBody": {
        "required": True,
        "description": "A managed batch {events, source, site_id}, a bare JSON array of events, or NDJSON; "
        "Content-Encoding: gzip accepted. Events follow conformance/schema/event-v1.json.",
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {
                            "type": "object",
                            "required": ["events"],
                            "additionalProperties": False,
                            "properties": {
                                "events": {"type": "array", "items": {"type": "object"}},
                                "source": {"type": "string", "maxLength": 64},
                                "site_id": {"type": "string", "maxLength": 128},
                            },
                        },
                        {"type": "array", "items": {"type": "object"}},
                    ]
                }
            },
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}
_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"description": '{"accepted": n, "duplicates": d, "rejected": [{"index", "field", "message"}]}'},
    400: {"description": "malformed body, or every event rejected"},
    401: {"description": "missing or unknown API key"},
    403: {"description": "key lacks the ingest scope"},
    413: {"description": "body, decompressed body or event count over the limit"},
    415: {"description": "unsupported Content-Encoding"},
}


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
    "/v1/ingest/managed",
    summary="Store a batch of events",
    openapi_extra=_BODY_DOC,
    responses=_RESPONSES,
)
async def ingest_managed(request: Request, _key: str | None = Depends(require("ingest"))) -> Response:
    rt = runtime(request)
    started = time.perf_counter()
    status = 500
    try:
        body = await read_body(request, rt.settings.max_body_bytes)
        now = datetime.now(UTC)
        try:
            good, problems = parse_batch(body, request.headers.get("content-encoding"), rt.settings, now)
        except BodyError as exc:
            raise ApiError(exc.status, exc.message, exc.field) from None
        rejected = [p.as_dict() for p in problems]
        rt.metrics.events.labels("rejected").inc(len(problems))
        if problems and not good:
            status = 400
            first = problems[0]
            return json_response(
                {
                    "error": f"all {len(problems)} events were rejected; first: event {first.index} "
                    f"field {first.field}: {first.message}",
                    "field": first.field,
                    "status": 400,
                    "accepted": 0,
                    "duplicates": 0,
                    "rejected": rejected,
                },
                400,
            )
        seen = await rt.alerting.before_ingest(good)
        result = await rt.store.ingest(good, now) if good else None
        rt.alerting.after_ingest(good, seen)  # evaluates in a task: never fails or delays the ingest
        accepted = result.accepted if result else 0
        duplicates = result.duplicates if result else 0
        rt.metrics.events.labels("accepted").inc(accepted)
        rt.metrics.events.labels("duplicate").inc(duplicates)
        if rt.store.last_ingest_lag_s is not None:
            rt.metrics.ingest_lag.set(rt.store.last_ingest_lag_s)
        status = 200
        return json_response({"accepted": accepted, "duplicates": duplicates, "rejected": rejected})
    except ApiError as exc:
        status = exc.status
        raise
    finally:
        rt.metrics.batches.labels(str(status)).inc()
        rt.metrics.ingest_seconds.observe(time.perf_counter() - started)
