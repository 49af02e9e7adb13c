"""Sidecar heartbeats: what each sidecar reports about itself, stored one row per sidecar.

A report is `{"sidecar_id", "host", "version", "uptime_s", "interval_s", "backends": [{"name",
"type", "lag_events", "lag_bytes", "oldest_age_s", "state", "last_error", "last_error_at"}],
"errors": [recent error texts]}`. The gateway stamps `last_seen_at` with its own clock (a sidecar's
clock may be off). Rows are kept until deleted by hand: a sidecar that stops reporting must stay
visible, that is what `sidecar_silent` watches.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from pydantic import BaseModel, ConfigDict, Field

from ..liveness import iso
from .db import AlertDb

MAX_BACKENDS = 64
MAX_ERRORS = 20


class BackendReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=128)
    type: str = Field(min_length=1, max_length=64)
    lag_events: int = Field(ge=0)  # spooled events this backend has not taken yet
    lag_bytes: int = Field(ge=0)
    oldest_age_s: float | None = Field(default=None, ge=0)  # age of the oldest of them, None when none
    state: str = Field(default="ok", max_length=32)
    last_error: str | None = Field(default=None, max_length=2000)
    last_error_at: float | None = None  # unix time, the sidecar's clock


class SidecarReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sidecar_id: str = Field(min_length=1, max_length=128)
    host: str = Field(min_length=1, max_length=255)
    version: str = Field(min_length=1, max_length=64)
    uptime_s: float = Field(ge=0)
    interval_s: float = Field(gt=0, le=3600)  # how often it reports: sidecar_silent counts in these
    backends: list[BackendReport] = Field(default_factory=list, max_length=MAX_BACKENDS)
    errors: list[str] = Field(default_factory=list, max_length=MAX_ERRORS)


class Sidecars:
    def __init__(self, db: AlertDb) -> None:
        self.db = db

    async def record(self, report: SidecarReport, now: datetime) -> bool:
        """Store a heartbeat; True when this sidecar reported for the first time."""
        body = report.model_dump_json()
        changed = await self.db.execute(
            "UPDATE sidecars SET host = ?, version = ?, interval_s = ?, last_seen_at = ?, report = ?"
            " WHERE sidecar_id = ?",
            report.host, report.version, report.interval_s, iso(now), body, report.sidecar_id,
        )  # fmt: skip
        if changed:
            return False
        await self.db.execute(
            "INSERT INTO sidecars (sidecar_id, host, version, interval_s, first_seen_at, last_seen_at, report)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sidecar_id) DO NOTHING",
            report.sidecar_id, report.host, report.version, report.interval_s, iso(now), iso(now), body,
        )  # fmt: skip
        return True

    async def rows(self) -> list[dict[str, Any]]:
        return await self.db.fetch("SELECT * FROM sidecars ORDER BY host, sidecar_id")


def sidecar_view(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    report: dict[str, Any] = msgspec.json.decode(row["report"])
    seen = datetime.fromisoformat(row["last_seen_at"])
    return report | {"first_seen_at": row["first_seen_at"], "last_seen_at": row["last_seen_at"],
                     "silent_s": round(max(0.0, (now - seen).total_seconds()), 3)}  # fmt: skip
