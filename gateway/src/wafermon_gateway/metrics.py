"""Prometheus metrics, one registry per app instance (tests build many apps in one process)."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter("wafermon_gateway_events", "Events received, by outcome", ["outcome"], registry=r)
        self.batches = Counter(
            "wafermon_gateway_batches", "Ingest requests, by the HTTP status sent", ["status"], registry=r
        )
        self.ingest_seconds = Histogram(
            "wafermon_gateway_ingest_seconds", "Time to validate and store one batch", registry=r,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )  # fmt: skip
        self.requests = Counter(
            "wafermon_gateway_http_requests", "HTTP requests by route and status", ["route", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "wafermon_gateway_http_request_seconds", "HTTP request latency by route", ["route"], registry=r
        )
        self.stream_clients = Gauge("wafermon_gateway_stream_clients", "Open SSE connections", registry=r)
        self.ingest_lag = Gauge(
            "wafermon_gateway_ingest_lag_seconds", "Receive time minus the newest event time of the last batch",
            registry=r,
        )  # fmt: skip
        self.liveness_changes = Counter(
            "wafermon_gateway_liveness_changes", "Rows turned lost or orphaned by the sweeper", registry=r
        )
        self.store_up = Gauge("wafermon_gateway_store_up", "1 when the last store check succeeded", registry=r)
        self.task_errors = Counter("wafermon_gateway_background_errors", "Failed background runs", ["task"], registry=r)


class MetricsMiddleware:
    """Counts requests by route template (not raw path, which would explode label cardinality), and
    ingest requests (batch_route) by the status actually sent, whichever handler produced the answer."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics, batch_route: str) -> None:
        self.app = app
        self.metrics = metrics
        self.batch_route = batch_route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        # Stays 500 only when no answer was started: the exception then reaches Starlette's outermost
        # handler, which answers 500.
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route: Any = scope.get("route")
            name = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(name, str(status["code"])).inc()
            if name == self.batch_route:
                self.metrics.batches.labels(str(status["code"])).inc()
            if not name.startswith("/v1/stream"):
                self.metrics.request_seconds.labels(name).observe(time.perf_counter() - started)
