"""Background work of a running gateway: the liveness sweep and store maintenance.

Each loop survives its own failures (logged and counted) so a database hiccup does not stop
liveness for the life of the process.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from .metrics import GatewayMetrics
from .periodic import every, stop_all
from .settings import Settings
from .store import Store

log = logging.getLogger("wafermon.gateway.tasks")


class Background:
    def __init__(self, settings: Settings, store: Store, metrics: GatewayMetrics) -> None:
        self.settings = settings
        self.store = store
        self.metrics = metrics
        self._tasks: list[asyncio.Task[None]] = []

    async def sweep_once(self) -> int:
        changed = await self.store.sweep(datetime.now(UTC))
        self.metrics.liveness_changes.inc(changed)
        return changed

    async def maintain_once(self) -> dict[str, object]:
        return await self.store.maintain(datetime.now(UTC))

    def _loop(self, name: str, interval: float, run: Callable[[], Awaitable[object]]) -> asyncio.Task[None]:
        def failed(exc: Exception) -> None:
            self.metrics.task_errors.labels(name).inc()
            log.warning("background %s failed: %s", name, exc)

        return asyncio.create_task(every(interval, run, failed))

    def start(self) -> None:
        self._tasks = [
            self._loop("liveness", self.settings.liveness_interval_s, self.sweep_once),
            self._loop("maintenance", self.settings.maintenance_interval_s, self.maintain_once),
        ]

    async def stop(self) -> None:
        await stop_all(self._tasks)
        self._tasks = []
