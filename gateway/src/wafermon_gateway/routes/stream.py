"""GET /v1/stream: job and sub-job changes as Server-Sent Events.

Each SSE message is the full current row (`event: job` or `event: subjob`) with `id:` its change id.
A client that reconnects with Last-Event-ID (or ?after=) gets every row that changed since, in
change order, then live changes; rows that changed several times while it was away arrive once,
in their newest state. Without either it starts with changes from now on (?after=0 replays all).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response, StreamingResponse

from ..auth import require
from ..errors import ApiError
from ..query import FILTERS, KINDS, Filters, Param, QueryError, openapi_parameters, parse_after, parse_filters
from ..store.base import entity_view
from .common import runtime

router = APIRouter(tags=["stream"])
PAGE = 500
# Parsed here (kind) and by query.parse_after (after); the filters by query.parse_filters.
STREAM_PARAMETERS = (
    Param("kind", "job, subjob or all (default all)"),
    Param("after", "resume after this event id (like Last-Event-ID)"),
)


async def _pending(request: Request, filters: list[Filters], after: int) -> list[tuple[int, str, dict[str, Any]]]:
    rt = runtime(request)
    merged: list[tuple[int, str, dict[str, Any]]] = []
    for f in filters:
        merged.extend((int(r["change_id"]), f.kind, r) for r in await rt.store.changes(f, after, PAGE))
    merged.sort(key=lambda item: item[0])
    return merged[:PAGE]


@router.get(
    "/v1/stream",
    summary="Live job/sub-job changes (Server-Sent Events)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "SSE: event job|subjob, id change id"}},
    openapi_extra={"parameters": openapi_parameters(KINDS, (*STREAM_PARAMETERS, *FILTERS))},
)
async def stream(request: Request, _key: str | None = Depends(require("read"))) -> Response:
    rt = runtime(request)
    params = request.query_params
    try:
        kinds = params.get("kind", "all")
        if kinds not in ("job", "subjob", "all") or len(params.getlist("kind")) > 1:
            raise QueryError("kind", "kind must be job, subjob or all")
        selected = ["job", "subjob"] if kinds == "all" else [kinds]
        if kinds == "all" and ("parent_id" in params or "sub_key" in params):
            raise QueryError("parent_id", "parent_id and sub_key need kind=subjob")
        filters = [parse_filters(params, k, STREAM_PARAMETERS) for k in selected]
        header = request.headers.get("last-event-id")
        position = parse_after(header if header is not None else params.get("after"))
    except QueryError as exc:
        raise ApiError(400, exc.message, exc.field) from None
    if rt.store.bus.subscribers >= rt.settings.max_stream_clients:
        raise ApiError(503, "too many stream clients; retry later", None, {"Retry-After": "5"})
    start = position if position is not None else await rt.store.latest_change()
    bus = rt.store.bus
    keepalive = rt.settings.stream_keepalive_s

    async def events() -> AsyncIterator[bytes]:
        after_id = start
        rt.metrics.stream_clients.inc()
        bus.subscribers += 1
        try:
            yield b"retry: 2000\n: connected\n\n"
            while True:
                seen = bus.latest
                rows = await _pending(request, filters, after_id)
                for change_id, kind, row in rows:
                    data = msgspec.json.encode(entity_view(row, kind))
                    yield b"id: %d\nevent: %s\ndata: %s\n\n" % (change_id, kind.encode(), data)
                    after_id = change_id
                if len(rows) == PAGE:
                    continue
                # Wake on a commit; otherwise re-read anyway after keepalive (covers a lost NOTIFY).
                if not await bus.wait_beyond(seen, keepalive):
                    yield b": keepalive\n\n"
        finally:
            bus.subscribers -= 1
            rt.metrics.stream_clients.dec()

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
