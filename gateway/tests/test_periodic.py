"""Background loops survive their own failures and stop when asked (periodic.py, tasks.Background)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from wafermon_gateway.metrics import GatewayMetrics
from wafermon_gateway.periodic import every, stop_all
from wafermon_gateway.settings import Settings
from wafermon_gateway.store import make_store
from wafermon_gateway.tasks import Background

WAIT_S = 30.0  # generous on a loaded machine; the loops tick every 10 ms


async def _until(condition: object, timeout_s: float = WAIT_S) -> None:
    async def poll() -> None:
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout_s)


async def test_a_failing_run_is_reported_and_the_next_tick_runs_again() -> None:
    calls: list[int] = []
    failures: list[str] = []

    async def run() -> None:
        calls.append(1)
        if len(calls) <= 2:
            raise RuntimeError(f"failure {len(calls)}")

    task = asyncio.create_task(every(0.01, run, lambda exc: failures.append(str(exc))))
    await _until(lambda: len(calls) >= 4)
    await stop_all([task])
    assert failures == ["failure 1", "failure 2"]
    assert task.cancelled()


async def test_background_counts_a_failing_sweep_and_keeps_sweeping(tmp_path: Path) -> None:
    settings = Settings(sqlite_path=tmp_path / "never-opened.db", liveness_interval_s=0.01, maintenance_interval_s=3600)
    metrics = GatewayMetrics()
    background = Background(settings, make_store(settings), metrics)  # the store is never opened: sweeps fail

    def failed() -> float:
        return metrics.registry.get_sample_value("wafermon_gateway_background_errors_total", {"task": "liveness"}) or 0

    background.start()
    try:
        await _until(lambda: failed() >= 2)
    finally:
        await background.stop()
    assert background._tasks == []
