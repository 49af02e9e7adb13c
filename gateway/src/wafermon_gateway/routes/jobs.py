"""Job and sub-job queries: lists with filters, sort and cursors; one job with sub-jobs and timeline."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from ..answers import JobDetail, JobList, JobView, SubjobDetail, SubjobList, SubjobView, TimelineEntry
from ..auth import require
from ..errors import ApiError
from ..query import FILTERS, PAGING, Filters, ListQuery, QueryError, next_cursor, openapi_parameters, parse_list
from ..store.base import entity_view
from .common import json_response, runtime

router = APIRouter(tags=["queries"])
LIST = (*FILTERS, *PAGING)


def _uuid_path(value: str, name: str) -> str:
    try:
        if len(value) != 36:
            raise ValueError
        return str(uuid.UUID(value))
    except ValueError:
        raise ApiError(400, f"{name} must be a UUID in the 8-4-4-4-12 form", name) from None


async def _list(request: Request, kind: str) -> Response:
    rt = runtime(request)
    try:
        q: ListQuery = parse_list(request.query_params, kind, rt.settings)
    except QueryError as exc:
        raise ApiError(400, exc.message, exc.field) from None
    rows = await rt.store.list_entities(q)
    views = [entity_view(r, kind) for r in rows[: q.limit]]
    cursor = next_cursor(q, views[-1]) if len(rows) > q.limit else None
    if kind == "job":
        return json_response(JobList([JobView.of(v) for v in views], cursor, q.limit))
    return json_response(SubjobList([SubjobView.of(v) for v in views], cursor, q.limit))


# The parameters are parsed by query.parse_list, strictly, and documented from the same declaration.
@router.get("/v1/jobs", summary="List jobs", openapi_extra={"parameters": openapi_parameters({"job"}, LIST)})
async def list_jobs(request: Request, _key: str | None = Depends(require("read"))) -> Response:
    return await _list(request, "job")


@router.get("/v1/subjobs", summary="List sub-jobs", openapi_extra={"parameters": openapi_parameters({"subjob"}, LIST)})
async def list_subjobs(request: Request, _key: str | None = Depends(require("read"))) -> Response:
    return await _list(request, "subjob")


@router.get("/v1/jobs/{job_id}", summary="One job with its sub-jobs and event timeline")
async def get_job(request: Request, job_id: str, _key: str | None = Depends(require("read"))) -> Response:
    rt = runtime(request)
    if request.query_params:
        name = next(iter(request.query_params))[:64]
        raise ApiError(400, f"unknown query parameter {name!r}; this endpoint takes none", name)
    job_id = _uuid_path(job_id, "job_id")
    row = await rt.store.get_entity("job", job_id)
    if row is None:
        raise ApiError(404, f"no job {job_id}", "job_id")
    limit = rt.settings.timeline_limit
    subjobs = await rt.store.list_entities(ListQuery(Filters("subjob", parent_id=job_id), "created_at", False, limit))
    timeline = await rt.store.timeline(job_id, limit + 1)
    return json_response(
        JobDetail(
            job=JobView.of(entity_view(row, "job")),
            subjobs=[SubjobView.of(entity_view(r, "subjob")) for r in subjobs[:limit]],
            subjobs_truncated=len(subjobs) > limit,
            timeline=[TimelineEntry(t["event"], t["received_at"]) for t in timeline[:limit]],
            timeline_truncated=len(timeline) > limit,
        )
    )


@router.get("/v1/subjobs/{subjob_id}", summary="One sub-job")
async def get_subjob(request: Request, subjob_id: str, _key: str | None = Depends(require("read"))) -> Response:
    rt = runtime(request)
    subjob_id = _uuid_path(subjob_id, "subjob_id")
    row = await rt.store.get_entity("subjob", subjob_id)
    if row is None:
        raise ApiError(404, f"no sub-job {subjob_id}", "subjob_id")
    return json_response(SubjobDetail(SubjobView.of(entity_view(row, "subjob"))))
