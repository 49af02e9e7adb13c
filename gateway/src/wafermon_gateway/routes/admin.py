"""Admin operations: run the liveness sweep and retention now instead of waiting for the timers."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..answers import Maintenance
from ..auth import require
from .common import json_response, runtime

router = APIRouter(tags=["admin"])


@router.post("/v1/admin/maintenance", summary="Run liveness sweep and retention now")
async def run_maintenance(request: Request, _key: str | None = Depends(require("admin"))) -> Response:
    rt = runtime(request)
    changed = await rt.background.sweep_once()
    retention = await rt.background.maintain_once()
    return json_response(Maintenance(changed, retention))
