"""Job metrics for Prometheus, on the gateway's registry beside its own metrics.

Labels are site and app only (never business keys or job ids); at most max_series distinct
(site, app) pairs get their own series, the rest are counted under site="_other", app="_other".
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

OTHER = "_other"


class JobMetrics:
    def __init__(self, registry: CollectorRegistry, max_series: int) -> None:
        self.max_series = max_series
        self._pairs: set[tuple[str, str]] = set()
        self.jobs = Counter("wafermon_jobs", "Jobs that reached a terminal status, by site, app and status",
                            ["site", "app", "status"], registry=registry)  # fmt: skip
        self.duration = Histogram(
            "wafermon_job_duration_seconds", "Duration of finished jobs", ["site", "app"], registry=registry,
            buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400),
        )  # fmt: skip
        self.current = Gauge("wafermon_jobs_current", "Jobs now running or lost, by site, app and status",
                             ["site", "app", "status"], registry=registry)  # fmt: skip
        self.alerts_firing = Gauge(
            "wafermon_alerts_firing", "Active (firing or acknowledged) alerts", registry=registry
        )
        self.monitors = Gauge("wafermon_monitor_state", "1 for each schedule monitor's current state",
                              ["monitor", "state"], registry=registry)  # fmt: skip
        self.notifications = Counter("wafermon_notifications", "Notification attempts by outcome", ["outcome"],
                                     registry=registry)  # fmt: skip

    def labels(self, site: str, app: str) -> tuple[str, str]:
        pair = (site, app)
        if pair in self._pairs:
            return pair
        if len(self._pairs) < self.max_series:
            self._pairs.add(pair)
            return pair
        return (OTHER, OTHER)

    def finished(self, job: dict[str, Any]) -> None:
        site, app = self.labels(job["site_id"], job["app_name"])
        self.jobs.labels(site, app, job["status"]).inc()
        duration = (job.get("metrics") or {}).get("duration_s")
        if isinstance(duration, int | float) and duration >= 0:
            self.duration.labels(site, app).observe(float(duration))

    def monitor_state(self, name: str, state: str) -> None:
        """Monitor names are configuration (bounded), never business keys."""
        for candidate in ("ok", "missed", "overdue", "failing", "too_often"):
            self.monitors.labels(name, candidate).set(1 if candidate == state else 0)

    def set_current(self, rows: list[dict[str, Any]]) -> None:
        """rows: {site_id, app_name, status, n} for running and lost jobs."""
        totals: dict[tuple[str, str, str], float] = {}
        for r in rows:
            site, app = self.labels(r["site_id"], r["app_name"])
            totals[(site, app, r["status"])] = totals.get((site, app, r["status"]), 0) + int(r["n"])
        self.current.clear()
        for labels, value in totals.items():
            self.current.labels(*labels).set(value)
