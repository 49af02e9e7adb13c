"""Shapes of alert rules and notifiers, validated the same way from the settings file and the API.

A rule is `{"name", "kind", "scope": {"site", "app", "business_key"}, "params": {...}, "cooldown_s",
"notify": [notifier names]}`; scope values are shell-style patterns (`etch-*`). Each kind has its own
params model, so an unknown or mistyped parameter is refused with the rule's name and the field.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
Kind = Literal[
    "job_failed", "failure_rate", "long_running", "memory", "lost", "orphaned", "silence", "store_unreachable",
    "ingest_lag", "sidecar_silent",
]  # fmt: skip
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def require_time_zone(name: str) -> None:
    """Raises ValueError naming `name` unless it is a time zone the IANA database knows (e.g. Europe/Berlin)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}") from None


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JobFailedParams(_Params):
    consecutive: int = Field(default=1, ge=1, le=1000)  # fire after N failures in a row of one app/key
    recovery_after: int = Field(default=1, ge=1, le=1000)  # resolve after M successes of that app/key


class FailureRateParams(_Params):
    window_s: float = Field(default=3600.0, gt=0, le=30 * 86400)
    threshold: float = Field(default=0.1, gt=0, le=1)  # fraction of finished jobs that failed
    min_jobs: int = Field(default=5, ge=1)


class LongRunningParams(_Params):
    limit_s: float | None = Field(default=None, gt=0)
    p95_factor: float | None = Field(default=None, gt=0)  # k x p95 of the app's own succeeded durations
    history: int = Field(default=200, ge=5, le=10000)  # how many past runs make the p95
    min_history: int = Field(default=5, ge=1)

    @model_validator(mode="after")
    def _one_limit(self) -> LongRunningParams:
        if (self.limit_s is None) == (self.p95_factor is None):
            raise ValueError("long_running needs exactly one of limit_s or p95_factor")
        return self


class MemoryParams(_Params):
    limit_mb: float = Field(gt=0)
    window_s: float = Field(default=3600.0, gt=0, le=30 * 86400)


class WindowParams(_Params):
    window_s: float = Field(default=3600.0, gt=0, le=30 * 86400)


class SilenceParams(_Params):
    window_s: float = Field(gt=0, le=30 * 86400)
    hours: list[int] | None = None  # only alert at these hours (0-23) of tz
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] | None = None
    tz: str = "UTC"

    @model_validator(mode="after")
    def _hours_in_range(self) -> SilenceParams:
        if self.hours is not None and any(not 0 <= h <= 23 for h in self.hours):
            raise ValueError("hours must be between 0 and 23")
        require_time_zone(self.tz)
        return self


class NoParams(_Params):
    pass


class IngestLagParams(_Params):
    max_events: int | None = Field(default=None, ge=0)  # a backend's backlog over this many events ...
    max_age_s: float | None = Field(default=None, gt=0)  # ... or its oldest waiting event older than this
    host: str | None = Field(default=None, max_length=255)  # shell patterns: which sidecars and backends
    backend: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _a_threshold(self) -> IngestLagParams:
        if self.max_events is None and self.max_age_s is None:
            raise ValueError("ingest_lag needs max_events or max_age_s (or both)")
        return self


class SidecarSilentParams(_Params):
    missed_intervals: float = Field(default=3.0, ge=1, le=1000)  # of the sidecar's own reporting interval
    host: str | None = Field(default=None, max_length=255)


PARAMS: dict[str, type[_Params]] = {
    "job_failed": JobFailedParams,
    "failure_rate": FailureRateParams,
    "long_running": LongRunningParams,
    "memory": MemoryParams,
    "lost": WindowParams,
    "orphaned": WindowParams,
    "silence": SilenceParams,
    "store_unreachable": NoParams,
    "ingest_lag": IngestLagParams,
    "sidecar_silent": SidecarSilentParams,
}


class RuleScope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    site: str | None = Field(default=None, max_length=128)
    app: str | None = Field(default=None, max_length=128)
    business_key: str | None = Field(default=None, max_length=256)

    def matches(self, site: str | None, app: str | None, business_key: str | None) -> bool:
        pairs = ((self.site, site), (self.app, app), (self.business_key, business_key))
        return all(p is None or (v is not None and fnmatch.fnmatchcase(v, p)) for p, v in pairs)


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=NAME_PATTERN)
    kind: Kind
    scope: RuleScope = Field(default_factory=RuleScope)
    params: dict[str, Any] = Field(default_factory=dict)
    cooldown_s: float = Field(default=300.0, ge=0, le=7 * 86400)
    notify: list[str] = Field(default_factory=list, max_length=20)
    enabled: bool = True

    @model_validator(mode="after")
    def _params_fit_kind(self) -> Rule:
        try:
            PARAMS[self.kind].model_validate(self.params)
        except ValidationError as exc:
            raise ValueError(f"params of a {self.kind} rule: {explain(exc)}") from None
        return self

    def typed_params(self) -> Any:
        return PARAMS[self.kind].model_validate(self.params)


class NotifierSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=NAME_PATTERN)
    type: str = Field(min_length=1, max_length=64)
    config: dict[str, Any] = Field(default_factory=dict)


def explain(exc: ValidationError) -> str:
    """A pydantic error list as one sentence naming each field."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in exc.errors())
