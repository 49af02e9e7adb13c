"""Builds one backend + pipeline (filter, transform) + cursor + delivery worker per enabled backend, frees
delivered spool segments, and answers for all of them (health, integrations, metrics).

A disabled backend (`enabled: false`) gets none of these: no worker, no cursor read or kept (it does not
hold the spool), no backend object kept; it is listed as disabled. Its settings are checked all the
same, so a bad key shows before someone turns it on."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from .backends import ConfigurationError, load_backend_class
from .config import BackendSettings, Settings
from .cursor import Cursor
from .deadletter import DeadLetters
from .delivery import DeliveryWorker, batch_limits
from .metrics import Metrics
from .shaping import Shaper, build_shaper
from .spool import Spool

log = logging.getLogger(__name__)


class FanOut:
    def __init__(self, settings: Settings, spool: Spool, metrics: Metrics) -> None:
        self.settings = settings
        self.spool = spool
        self.metrics = metrics
        root = Path(settings.spool.path)
        self.cursor_dir = root / "cursors"
        self.dead_letter_dir = root / "deadletter"
        self.workers: list[DeliveryWorker] = []
        self.cursors: dict[str, Cursor] = {}
        # Backends are built (and their config checked) before anything is opened.
        self._backends = [(b, load_backend_class(b.type)(b.name, b.config)) for b in settings.backends if b.enabled]
        self._shapers: dict[str, Shaper | None] = {}
        for b, backend in self._backends:
            batch_limits(b, type(backend), settings.ingest)  # a batch size over the receiver's limit: ConfigError
            self._shapers[b.name] = build_shaper(b, type(backend))  # a pipeline the backend cannot take: ConfigError
        for b in settings.backends:
            if not b.enabled:
                check_disabled(b, settings)

    def load_cursors(self) -> int:
        """Read every enabled backend's cursor; returns the highest (the spool never restarts below it)."""
        self.cursor_dir.mkdir(parents=True, exist_ok=True)
        highest = 0
        for b, _ in self._backends:
            cursor = Cursor(self.cursor_dir, b.name)
            highest = max(highest, cursor.load())
            self.cursors[b.name] = cursor
        return highest

    def start(self) -> None:
        for b, backend in self._backends:
            cursor = self.cursors[b.name]
            if not cursor.exists():
                # A backend new to this spool starts with whatever the spool still holds.
                cursor.seq = self.spool.first_seq
                cursor.persist()
            worker = DeliveryWorker(
                b,
                backend,
                self.spool,
                cursor,
                self.settings.delivery,
                self.settings.ingest,
                self.metrics,
                DeadLetters(self.dead_letter_dir, b.name, int(self.settings.delivery.dead_letter_max_mb * 1024 * 1024)),
                self.release,
                self._shapers[b.name],
            )
            self.workers.append(worker)
            worker.start()
        self.release()

    def release(self) -> None:
        """Delete segments every enabled backend has durably passed."""
        if not self.cursors:
            return  # with no backend at all, nothing would ever free the spool; keep it (documented)
        floor = min(c.persisted_seq for c in self.cursors.values())
        if self.spool.release(floor):
            self.metrics.spool_bytes.set(self.spool.bytes)

    async def stop(self, grace_s: float = 5.0) -> None:
        await asyncio.gather(*(w.stop(grace_s) for w in self.workers))
        self.release()

    async def status(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = {}
        by_name = {w.name: w for w in self.workers}
        for b in self.settings.backends:
            worker = by_name.get(b.name)
            if worker is None:
                result[b.name] = {"type": b.type, "enabled": False, "priority": b.priority, "state": "disabled"}
            else:
                result[b.name] = await worker.status()
        return result

    def summary(self) -> list[dict[str, Any]]:
        """Per configured backend, in priority order: name, type, enabled, status (healthy | degraded |
        failing | disabled), why, state, lag (events, seconds), counts and the last error."""
        by_name = {w.name: w for w in self.workers}
        result: list[dict[str, Any]] = []
        for b in self.settings.backends:
            worker = by_name.get(b.name)
            entry: dict[str, Any] = {"name": b.name, "type": b.type, "enabled": b.enabled, "priority": b.priority}
            if worker is None:
                entry.update(status="disabled", status_reason="enabled: false", state="disabled")
            else:
                status, reason = worker.health()
                entry.update(
                    status=status, status_reason=reason, state=worker.state(), lag_events=worker.lag,
                    lag_seconds=worker.lag_seconds(), delivered=worker.delivered, filtered=worker.filtered,
                    dead_lettered=worker.dead_lettered, failed=worker.failed, failed_attempts=worker.attempts_failed,
                    last_error=worker.last_error, last_error_at=worker.last_error_at,
                )  # fmt: skip
            result.append(entry)
        return result

    def refresh_metrics(self) -> None:
        for b in self.settings.backends:
            self.metrics.enabled.labels(b.name).set(1 if b.enabled else 0)
        for w in self.workers:
            w.refresh_metrics()
        self.metrics.spool_bytes.set(self.spool.bytes)
        self.metrics.spool_max_bytes.set(self.spool.max_bytes)


def check_disabled(settings: BackendSettings, all_settings: Settings) -> None:
    """Check a disabled backend's config, batch limits and pipeline as if it were enabled (a backend's
    constructor opens nothing). Raises ConfigurationError / ConfigError naming the key; a type not
    installed on this host only logs a warning, since that may be why it is disabled."""
    try:
        backend_class = load_backend_class(settings.type)
    except ConfigurationError as exc:
        log.warning("disabled backend %r is not checked: its type %r is not installed here (%s)",
                    settings.name, settings.type, exc)  # fmt: skip
        return
    backend_class(settings.name, settings.config)
    batch_limits(settings, backend_class, all_settings.ingest)
    build_shaper(settings, backend_class)
