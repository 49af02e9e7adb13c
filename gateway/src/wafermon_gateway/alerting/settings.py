"""The `[alerting]` section of the gateway settings."""

from __future__ import annotations

from typing import Annotated

import msgspec

from wafermon_schema.settings_loader import AtLeastOne, Positive

from .model import NotifierSpec, Rule
from .monitor_model import Monitor


class AlertingSettings(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    enabled: bool = True
    # Windowed rules (failure_rate, long_running, silence ...) and the store check run this often.
    evaluate_interval_s: Positive = 10.0
    # A new alert's first message waits this long so a burst becomes one message listing its jobs.
    group_wait_s: Annotated[float, msgspec.Meta(ge=0, le=600)] = 1.0
    # Outbox retry: exponential from backoff_initial_s, capped at backoff_max_s; a notification still
    # undelivered after max_pending_age_s is marked dead (logged, kept in the outbox for inspection).
    backoff_initial_s: Positive = 1.0
    backoff_max_s: Positive = 300.0
    max_pending_age_s: Positive = 7 * 86400.0
    send_timeout_s: Positive = 10.0
    # Gateways sharing one PostgreSQL: one evaluator (advisory lock) runs the timer and sends; the
    # others try to take over this often.
    evaluator_retry_s: Annotated[Positive, msgspec.Meta(le=300)] = 5.0
    # store_unreachable messages wait in memory while the store is down (it cannot hold them): at most
    # this many; when full the oldest is dropped (logged). Persisted to the outbox once the store is back.
    direct_queue_max: Annotated[AtLeastOne, msgspec.Meta(le=10000)] = 100
    # An alert message lists at most this many jobs (the count is always complete).
    max_items: Annotated[AtLeastOne, msgspec.Meta(le=1000)] = 50
    # Base URL of the dashboard; messages link to <dashboard_url>/ui/jobs/<job id> when set.
    dashboard_url: str = ""
    # Distinct (site, app) label pairs on the job metrics; further pairs are counted as "_other".
    max_metric_series: Annotated[AtLeastOne, msgspec.Meta(le=100000)] = 500
    # Each entry is converted by the alerting API's own request model (pydantic; see settings.py).
    rules: list[Rule] = msgspec.field(default_factory=list)
    notifiers: list[NotifierSpec] = msgspec.field(default_factory=list)
    monitors: list[Monitor] = msgspec.field(default_factory=list)
