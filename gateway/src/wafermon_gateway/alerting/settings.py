"""The `[alerting]` section of the gateway settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .model import NotifierSpec, Rule
from .monitor_model import Monitor


class AlertingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # Windowed rules (failure_rate, long_running, silence ...) and the store check run this often.
    evaluate_interval_s: float = Field(default=10.0, gt=0)
    # A new alert's first message waits this long so a burst becomes one message listing its jobs.
    group_wait_s: float = Field(default=1.0, ge=0, le=600)
    # Outbox retry: exponential from backoff_initial_s, capped at backoff_max_s; a notification still
    # undelivered after max_pending_age_s is marked dead (logged, kept in the outbox for inspection).
    backoff_initial_s: float = Field(default=1.0, gt=0)
    backoff_max_s: float = Field(default=300.0, gt=0)
    max_pending_age_s: float = Field(default=7 * 86400.0, gt=0)
    send_timeout_s: float = Field(default=10.0, gt=0)
    # Gateways sharing one PostgreSQL: one evaluator (advisory lock) runs the timer and sends; the
    # others try to take over this often.
    evaluator_retry_s: float = Field(default=5.0, gt=0, le=300)
    # store_unreachable messages wait in memory while the store is down (it cannot hold them): at most
    # this many; when full the oldest is dropped (logged). Persisted to the outbox once the store is back.
    direct_queue_max: int = Field(default=100, ge=1, le=10000)
    # An alert message lists at most this many jobs (the count is always complete).
    max_items: int = Field(default=50, ge=1, le=1000)
    # Base URL of the dashboard; messages link to <dashboard_url>/ui/jobs/<job id> when set.
    dashboard_url: str = ""
    # Distinct (site, app) label pairs on the job metrics; further pairs are counted as "_other".
    max_metric_series: int = Field(default=500, ge=1, le=100000)
    rules: list[Rule] = Field(default_factory=list)
    notifiers: list[NotifierSpec] = Field(default_factory=list)
    monitors: list[Monitor] = Field(default_factory=list)
