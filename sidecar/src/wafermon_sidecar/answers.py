"""The JSON bodies the sidecar answers with, as msgspec types: the routes build these, and
openapi.py derives the documented response schemas from the same types."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from wafermon_schema import Rejected as Rejected  # the routes build it from here

UNSET: Any = msgspec.UNSET


class IngestResult(msgspec.Struct, frozen=True):
    """202/207: how many events were accepted (and fsync'd on the spool); the refused ones listed."""

    accepted: int
    rejected: list[Rejected]


class ErrorAnswer(msgspec.Struct, frozen=True, omit_defaults=True):
    """Every 4xx/5xx. Ingest refusals also say that nothing was accepted and list refused events."""

    error: str
    accepted: int | msgspec.UnsetType = UNSET
    rejected: list[Rejected] | msgspec.UnsetType = UNSET


class SpoolHealth(msgspec.Struct, frozen=True):
    path: str
    bytes: int
    max_bytes: int
    segments: int
    first_seq: int
    next_seq: int
    full: bool


IntegrationStatus = Literal["healthy", "degraded", "failing", "disabled"]


class IntegrationHealth(msgspec.Struct, frozen=True):
    """One integration (backend) in GET /v1/healthz `integrations`, in priority order. status: see
    health.py (disabled: `enabled: false`); lag_seconds: age of the oldest event not yet confirmed;
    counts since the process started: events delivered, filtered out, dead-lettered, skipped as
    unreadable on the spool (failed), and delivery attempts that failed (retried)."""

    name: str
    type: str
    enabled: bool
    priority: int
    status: IntegrationStatus
    status_reason: str | None
    state: str
    lag_events: int = 0
    lag_seconds: float = 0.0
    delivered: int = 0
    filtered: int = 0
    dead_lettered: int = 0
    failed: int = 0
    failed_attempts: int = 0
    last_error: str | None = None
    last_error_at: float | None = None


class Health(msgspec.Struct, frozen=True):
    """GET /v1/healthz: status ok, or degraded when an enabled integration is not healthy or the spool
    is full; integrations (a list, the seeds' shape) and backends by name (everything the worker knows,
    including the backend's own details)."""

    status: Literal["ok", "degraded"]
    version: str
    uptime_s: float
    spool: SpoolHealth
    integrations: list[IntegrationHealth]
    backends: dict[str, dict[str, Any]]


class IntegrationDetail(msgspec.Struct, frozen=True):
    name: str
    type: str
    enabled: bool
    priority: int
    status: IntegrationStatus
    state: str


class Integrations(msgspec.Struct, frozen=True):
    """GET /v1/integrations: the configured backends (names; the enabled ones; each one's type and health)."""

    total: int
    enabled: int
    integrations: list[str]
    enabled_integrations: list[str]
    details: list[IntegrationDetail]
