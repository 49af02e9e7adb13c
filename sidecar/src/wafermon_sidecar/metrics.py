"""Prometheus metrics of one sidecar (own registry, so tests can run many apps in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

PREFIX = "wafermon_sidecar"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.received = Counter(f"{PREFIX}_events_received", "Events received on ingest (valid or not)", registry=r)
        self.rejected = Counter(f"{PREFIX}_events_rejected", "Events refused by validation", registry=r)
        self.spooled = Counter(f"{PREFIX}_events_spooled", "Events durably written to the spool", registry=r)
        self.refused = Counter(f"{PREFIX}_requests_refused", "Ingest requests refused whole", ["reason"], registry=r)
        # Per integration (backend), by what became of each event its cursor passed (one counter for all).
        self.processed = Counter(
            f"{PREFIX}_events_processed", "Events an integration's cursor passed, by what became of them: delivered, "
            "filtered (its filter or transform left them out), dead_lettered (refused for good, or its transform "
            "failed), failed (unreadable on the spool, skipped)", ["integration", "status"], registry=r,
        )  # fmt: skip
        self.attempts_failed = Counter(
            f"{PREFIX}_delivery_attempts_failed", "Batch deliveries that failed and will be retried", ["integration"],
            registry=r,
        )  # fmt: skip
        self.lag = Gauge(f"{PREFIX}_integration_lag_events", "Spooled events an integration has not yet confirmed",
                         ["integration"], registry=r)  # fmt: skip
        self.lag_seconds = Gauge(
            f"{PREFIX}_integration_lag_seconds", "Age of the oldest spooled event an integration has not yet "
            "confirmed (0 when none waits)", ["integration"], registry=r,
        )  # fmt: skip
        self.circuit = Gauge(
            f"{PREFIX}_integration_circuit_open", "Circuit breaker: 0 closed, 1 half-open, 2 open", ["integration"],
            registry=r,
        )  # fmt: skip
        self.health = Gauge(
            f"{PREFIX}_integration_status", "0 healthy, 1 degraded, 2 failing (docs/sidecar.md, Health)",
            ["integration"], registry=r,
        )  # fmt: skip
        self.enabled = Gauge(f"{PREFIX}_integration_enabled", "1 enabled, 0 disabled (no worker, no cursor)",
                             ["integration"], registry=r)  # fmt: skip
        self.spool_bytes = Gauge(f"{PREFIX}_spool_bytes", "Bytes of segment files on the spool", registry=r)
        self.spool_max_bytes = Gauge(f"{PREFIX}_spool_max_bytes", "The spool size limit", registry=r)
        # What spool recovery found at start (a corrupt record is skipped, a torn tail cut off).
        self.spool_records_skipped = Counter(f"{PREFIX}_spool_corrupt_records_skipped",
            "Damaged stretches of a spool segment skipped at start, each with valid records after it",
            registry=r)  # fmt: skip
        self.spool_bytes_skipped = Counter(f"{PREFIX}_spool_corrupt_bytes_skipped",
            "Bytes of damaged spool records skipped at start", registry=r)  # fmt: skip
        self.spool_events_skipped = Counter(f"{PREFIX}_spool_corrupt_events_lost",
            "Events held by damaged spool records skipped at start (from the sequence gap)", registry=r)  # fmt: skip
        self.spool_bytes_truncated = Counter(f"{PREFIX}_spool_torn_bytes_truncated",
            "Bytes of torn spool tails (nothing valid after them) cut off at start", registry=r)  # fmt: skip
        self.latency = Histogram(
            f"{PREFIX}_request_duration_seconds",
            "Ingest request latency (including the spool fsync)",
            ["route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
