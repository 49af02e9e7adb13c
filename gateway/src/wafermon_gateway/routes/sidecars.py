"""Sidecar heartbeats: POST /v1/sidecars/heartbeat (ingest scope: the key a sidecar already holds)
and GET /v1/sidecars (read scope), each sidecar with its last report and when it was last seen."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..alerting.sidecars import SidecarReport, sidecar_view
from ..auth import require
from .alerting import _body, alerting
from .common import json_response

router = APIRouter(tags=["sidecars"])


@router.post("/v1/sidecars/heartbeat", summary="A sidecar reports itself: host, version, backlog per backend")
async def heartbeat(request: Request, _key: str | None = Depends(require("ingest"))) -> Response:
    report: SidecarReport = await _body(request, SidecarReport, "heartbeat")
    first = await alerting(request).sidecars.record(report, datetime.now(UTC))
    return json_response({"sidecar_id": report.sidecar_id, "first": first})


@router.get("/v1/sidecars", summary="Sidecars that reported, with their last report and last-seen time")
async def list_sidecars(request: Request, _key: str | None = Depends(require("read"))) -> Response:
    now = datetime.now(UTC)
    rows = await alerting(request).sidecars.rows()
    return json_response({"sidecars": [sidecar_view(r, now) for r in rows]})
