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


class Health(msgspec.Struct, frozen=True):
    """GET /v1/healthz: status ok or degraded; backends by name (state, lag, last error, details)."""

    status: Literal["ok", "degraded"]
    version: str
    uptime_s: float
    spool: SpoolHealth
    backends: dict[str, dict[str, Any]]


class IntegrationDetail(msgspec.Struct, frozen=True):
    name: str
    type: str
    enabled: bool
    priority: int


class Integrations(msgspec.Struct, frozen=True):
    """GET /v1/integrations: the configured backends."""

    total: int
    enabled: int
    integrations: list[str]
    enabled_integrations: list[str]
    details: list[IntegrationDetail]
