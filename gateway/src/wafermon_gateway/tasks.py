"""Background work of a running gateway: the liveness sweep and store maintenance.

Each loop survives its own failures (logged and counted) so a database hiccup does not stop
liveness for the life of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from .metrics import GatewayMetrics
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

    async def _loop(self, name: str, interval: float, run: Callable[[], Awaitable[object]]) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep the loop alive; the next run retries
                self.metrics.task_errors.labels(name).inc()
                log.warning("background %s failed: %s", name, exc)

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._loop("liveness", self.settings.liveness_interval_s, self.sweep_once)),
            asyncio.create_task(self._loop("maintenance", self.settings.maintenance_interval_s, self.maintain_once)),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
