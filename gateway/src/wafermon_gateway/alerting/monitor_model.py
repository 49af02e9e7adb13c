"""Schedule monitors: which runs belong to a monitor, when they should start, how long they may run.

`{"name", "match": {"app", "business_key", "monitor", "site"}, "schedule": {"cron": "0 2 * * *",
"tz": "Europe/Berlin"} | {"interval_s": 3600}, "start_grace_s", "max_runtime_s", "failure_threshold",
"recovery_threshold", "min_gap_s", "cooldown_s", "notify"}`. A run matches when every given match
field does (app/business_key/site are shell patterns; `monitor` is the name an SDK puts in the job's
metadata under "monitor").
"""

from __future__ import annotations

from croniter import croniter  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, model_validator

from .model import NAME_PATTERN, require_time_zone

MONITOR_STATES = ("ok", "missed", "overdue", "failing", "too_often")


class MonitorMatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    app: str | None = Field(default=None, max_length=128)
    business_key: str | None = Field(default=None, max_length=256)
    monitor: str | None = Field(default=None, max_length=128)
    site: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _something(self) -> MonitorMatch:
        if self.app is None and self.business_key is None and self.monitor is None:
            raise ValueError("match needs at least one of app, business_key or monitor")
        return self


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    cron: str | None = None
    tz: str = "UTC"
    interval_s: float | None = Field(default=None, ge=10, le=366 * 86400)

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        if (self.cron is None) == (self.interval_s is None):
            raise ValueError("schedule needs exactly one of cron or interval_s")
        if self.cron is not None and not croniter.is_valid(self.cron):
            raise ValueError(f"cron {self.cron!r} is not a valid crontab expression")
        require_time_zone(self.tz)
        return self


class Monitor(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=NAME_PATTERN)
    match: MonitorMatch
    schedule: Schedule
    start_grace_s: float = Field(default=60.0, ge=0, le=86400)
    max_runtime_s: float | None = Field(default=None, gt=0)
    failure_threshold: int = Field(default=1, ge=1, le=1000)
    recovery_threshold: int = Field(default=1, ge=1, le=1000)
    min_gap_s: float | None = Field(default=None, gt=0)  # two starts closer than this: too_often
    cooldown_s: float = Field(default=300.0, ge=0)
    notify: list[str] = Field(default_factory=list, max_length=20)
