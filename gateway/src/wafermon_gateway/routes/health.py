"""GET /v1/healthz (store reachable, ingest lag) and GET /metrics (Prometheus text)."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from .. import __version__
from ..answers import Health, IngestHealth, StoreHealth
from ..auth import require
from ..liveness import iso
from .common import json_response, runtime

router = APIRouter(tags=["operations"])


@router.get("/v1/healthz", summary="Store reachability and ingest lag (no auth)")
async def healthz(request: Request) -> Response:
    rt = runtime(request)
    error = None
    try:
        await rt.store.ping()
    except Exception as exc:  # any failure means "not reachable"; report it, do not crash
        error = f"{type(exc).__name__}: {exc}"
    rt.metrics.store_up.set(0 if error else 1)
    now = datetime.now(UTC)
    last = rt.store.last_ingest_at
    body = Health(
        status="ok" if error is None else "unavailable",
        version=__version__,
        store=StoreHealth(rt.store.name, error is None, error, getattr(rt.store, "mode", None)),
        ingest=IngestHealth(
            last_batch_at=iso(last) if last else None,
            seconds_since_last_batch=(now - last).total_seconds() if last else None,
            lag_s=rt.store.last_ingest_lag_s,
        ),
        latest_change=rt.store.bus.latest,
    )
    return json_response(body, 200 if error is None else 503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request, _key: str | None = Depends(require("read"))) -> Response:
    return Response(generate_latest(runtime(request).metrics.registry), media_type=CONTENT_TYPE_LATEST)
