"""Job and sub-job queries: lists with filters, sort and cursors; one job with sub-jobs and timeline."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from ..answers import JobDetail, JobList, JobView, SubjobDetail, SubjobList, SubjobView, TimelineEntry
from ..auth import require
from ..errors import ApiError
from ..query import Filters, ListQuery, QueryError, next_cursor, parse_list
from ..store.base import entity_view
from .common import json_response, runtime

router = APIRouter(tags=["queries"])

# Declared for the OpenAPI document only: parsing is done by query.parse_list, strictly.
_SITE = Query(None, description="exact site id, e.g. fab1")
_APP = Query(None, description="exact application name")
_STATUS = Query(None, description="running, succeeded, failed, cancelled, lost, orphaned; repeat or comma-separate")
_BKEY = Query(None, description="exact business key")
_BKEY_CONTAINS = Query(None, description="business keys containing this text, any case (3..256 characters)")
_HOST = Query(None, description="exact host name")
_SINCE = Query(None, description="RFC 3339; rows with an event at or after this time")
_UNTIL = Query(None, description="RFC 3339; rows created before this time")
_SORT = Query(None, description="created_at or updated_at, '-' prefix for descending (default -created_at)")
_LIMIT = Query(None, description="page size, 1..max_limit (default 50, max 1000)")
_CURSOR = Query(None, description="next_cursor of the previous page")


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


@router.get("/v1/jobs", summary="List jobs")
async def list_jobs(
    request: Request,
    site_id: str | None = _SITE,
    app: str | None = _APP,
    status: str | None = _STATUS,
    business_key: str | None = _BKEY,
    business_key_contains: str | None = _BKEY_CONTAINS,
    host: str | None = _HOST,
    since: str | None = _SINCE,
    until: str | None = _UNTIL,
    sort: str | None = _SORT,
    limit: str | None = _LIMIT,
    cursor: str | None = _CURSOR,
    _key: str | None = Depends(require("read")),
) -> Response:
    return await _list(request, "job")


@router.get("/v1/subjobs", summary="List sub-jobs")
async def list_subjobs(
    request: Request,
    site_id: str | None = _SITE,
    app: str | None = _APP,
    status: str | None = _STATUS,
    business_key: str | None = _BKEY,
    business_key_contains: str | None = _BKEY_CONTAINS,
    host: str | None = _HOST,
    since: str | None = _SINCE,
    until: str | None = _UNTIL,
    sort: str | None = _SORT,
    limit: str | None = _LIMIT,
    cursor: str | None = _CURSOR,
    parent_id: str | None = Query(None, description="the parent job's id"),
    sub_key: str | None = Query(None, description="exact sub key (e.g. wafer id)"),
    _key: str | None = Depends(require("read")),
) -> Response:
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
