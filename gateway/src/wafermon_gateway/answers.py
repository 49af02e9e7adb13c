"""The JSON bodies the gateway answers with, as msgspec types: the routes and error handlers build
these, and openapi.py derives the documented response schemas from the same types."""

from __future__ import annotations

from typing import Any, Literal, Self

import msgspec

from wafermon_schema import Rejected as Rejected  # the routes build it from here

UNSET: Any = msgspec.UNSET


class IngestResult(msgspec.Struct, frozen=True):
    """200: events stored, events already stored before (same event_id), and the refused ones."""

    accepted: int
    duplicates: int
    rejected: list[Rejected]


class ErrorAnswer(msgspec.Struct, frozen=True, omit_defaults=True):
    """Every 4xx/5xx: what is wrong, the field or parameter at fault (or null) and the status.
    A batch whose every event was refused also carries the ingest counts and the refused events."""

    error: str
    field: str | None
    status: int
    accepted: int | msgspec.UnsetType = UNSET
    duplicates: int | msgspec.UnsetType = UNSET
    rejected: list[Rejected] | msgspec.UnsetType = UNSET


class AppView(msgspec.Struct, frozen=True):
    name: str
    version: str
    id: str | None


class JobView(msgspec.Struct, frozen=True):
    """A job row as the API shows it (store.base.entity_view); times are RFC 3339 strings."""

    id: str
    type: Literal["job", "subjob"]
    site_id: str
    app: AppView
    business_key: str | None
    status: Literal["running", "succeeded", "failed", "cancelled", "lost", "orphaned"]
    reported_status: Literal["running", "succeeded", "failed", "cancelled"]
    created_at: str
    updated_at: str
    started_at: str | None
    finished_at: str | None
    duration_s: float | None
    progress: float | None
    metrics: dict[str, Any] | None
    error: dict[str, Any] | None
    host: str | None
    pid: int | None
    metadata: dict[str, Any]
    last_seq: int
    lost_after: str | None
    change_id: int

    @classmethod
    def of(cls, view: dict[str, Any]) -> Self:
        app = view["app"]
        return cls(**(view | {"app": AppView(app["name"], app["version"], app["id"])}))


class SubjobView(JobView, frozen=True):
    """A sub-job row: a job row plus its parent and sub key."""

    parent_id: str
    sub_key: str | None


class JobList(msgspec.Struct, frozen=True):
    items: list[JobView]
    next_cursor: str | None
    limit: int


class SubjobList(msgspec.Struct, frozen=True):
    items: list[SubjobView]
    next_cursor: str | None
    limit: int


class TimelineEntry(msgspec.Struct, frozen=True):
    event: dict[str, Any]
    received_at: str


class JobDetail(msgspec.Struct, frozen=True):
    job: JobView
    subjobs: list[SubjobView]
    subjobs_truncated: bool
    timeline: list[TimelineEntry]
    timeline_truncated: bool


class SubjobDetail(msgspec.Struct, frozen=True):
    subjob: SubjobView


class StoreHealth(msgspec.Struct, frozen=True):
    kind: str
    reachable: bool
    error: str | None
    mode: str | None


class IngestHealth(msgspec.Struct, frozen=True):
    last_batch_at: str | None
    seconds_since_last_batch: float | None
    lag_s: float | None


class Health(msgspec.Struct, frozen=True):
    """GET /v1/healthz: 200 with status ok, or 503 with status unavailable and the store's error."""

    status: Literal["ok", "unavailable"]
    version: str
    store: StoreHealth
    ingest: IngestHealth
    latest_change: int


class Maintenance(msgspec.Struct, frozen=True):
    liveness_changes: int
    retention: dict[str, Any]


# --- alerting, monitors, dashboard: plain dicts from the routes, documented as what they wrap ---------
class RuleList(msgspec.Struct, frozen=True):
    """GET /v1/alerting/rules: each rule as stored (schema Rule)."""

    rules: list[dict[str, Any]]


class NotifierList(msgspec.Struct, frozen=True):
    """GET /v1/alerting/notifiers: each notifier as stored, config included (schema NotifierSpec)."""

    notifiers: list[dict[str, Any]]


class AlertList(msgspec.Struct, frozen=True):
    """GET /v1/alerts: alert rows, newest first."""

    alerts: list[dict[str, Any]]


class Outbox(msgspec.Struct, frozen=True):
    """GET /v1/alerting/outbox: notification rows (pending, sent, dead), oldest first."""

    outbox: list[dict[str, Any]]


class Evaluated(msgspec.Struct, frozen=True):
    """POST /v1/alerting/evaluate: how many notifications were delivered by this run."""

    sent: int


class MonitorList(msgspec.Struct, frozen=True):
    """GET /v1/monitors: each schedule monitor with its state, and the latest refused declarations
    from SDK code (at, job_id, app, site_id, field, message)."""

    monitors: list[dict[str, Any]]
    declaration_errors: list[dict[str, Any]] = msgspec.field(default_factory=list)


class HeartbeatAnswer(msgspec.Struct, frozen=True):
    """POST /v1/sidecars/heartbeat: stored; first is true for a sidecar new to this gateway."""

    sidecar_id: str
    first: bool


class SidecarList(msgspec.Struct, frozen=True):
    """GET /v1/sidecars: each sidecar's last report plus first_seen_at, last_seen_at (gateway clock)
    and silent_s (seconds since)."""

    sidecars: list[dict[str, Any]]
