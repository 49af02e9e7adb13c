"""Two real gateway processes on one real PostgreSQL: one evaluator (a PostgreSQL advisory lock) sends,
so each notification arrives once, not twice; when the evaluator is killed (-9) the other takes over."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from peers import GatewayProcess, HttpReceiver, wait_until

from wafermon_testkit.events import job_story
from wafermon_testkit.postgres import FAST, postgres_server

SECRET = "hook-secret-0123"


@pytest.fixture
def database() -> Iterator[str]:
    with postgres_server(f"{FAST} -c max_connections=300", stop_mode="immediate") as dsn:

        async def create() -> None:
            conn = await asyncpg.connect(dsn)
            await conn.execute("CREATE DATABASE gw")
            await conn.close()

        asyncio.run(create())
        yield dsn.rsplit("/", 1)[0] + "/gw"


def _gateway(workdir: Path, dsn: str, hook: HttpReceiver) -> GatewayProcess:
    workdir.mkdir()
    alerting: dict[str, Any] = {
        "group_wait_s": 0.2, "evaluate_interval_s": 1, "backoff_initial_s": 0.2, "backoff_max_s": 0.5,
        "evaluator_retry_s": 0.5,
        "notifiers": [{"name": "hook", "type": "webhook", "config": {"url": hook.url, "secret": SECRET}}],
        "rules": [{"name": "failed-jobs", "kind": "job_failed", "cooldown_s": 3600, "notify": ["hook"]}],
    }  # fmt: skip
    return GatewayProcess(workdir, {"database_url": dsn, "alerting": alerting})


def test_two_gateways_on_one_postgresql_send_each_notification_once(tmp_path: Path, database: str) -> None:
    hook = HttpReceiver(SECRET)  # down at first: both gateways would retry the same rows
    hook.delay_s = 0.3
    first = _gateway(tmp_path / "a", database, hook).start()
    wait_until(lambda: "alerting evaluator" in (tmp_path / "a" / "gateway.log").read_text(), 10, "a to lead")
    second = _gateway(tmp_path / "b", database, hook).start()
    try:
        for n, gw in enumerate((first, second, first, second)):
            gw.ingest(job_story(outcome="failed", progress_steps=0, app=f"app{n}"))
        wait_until(lambda: len(first.get("/v1/alerting/outbox")["outbox"]) == 4, 10, "four notifications queued")
        wait_until(lambda: all(r["attempts"] >= 2 for r in first.get("/v1/alerting/outbox")["outbox"]), 10,
                   "retries while the receiver is down")  # fmt: skip
        hook.start()
        wait_until(lambda: len(hook.received) >= 4, 15, "four deliveries")
        wait_until(lambda: {r["state"] for r in first.get("/v1/alerting/outbox")["outbox"]} == {"sent"}, 10, "sent")
        counts = collections.Counter(body["notification_id"] for _t, body, _h in hook.received)
        assert len(counts) == 4 and set(counts.values()) == {1}, counts
        assert "alerting evaluator" not in (tmp_path / "b" / "gateway.log").read_text()
        # The evaluator dies: the other takes the lock and sends the next alert.
        first.kill9()
        second.ingest(job_story(outcome="failed", progress_steps=0, app="after-failover"))
        wait_until(lambda: len(hook.received) == 5, 15, "the alert after the failover")
        assert hook.received[4][1]["alert"]["scope"]["app"] == "after-failover"
        assert "alerting evaluator" in (tmp_path / "b" / "gateway.log").read_text()
    finally:
        second.stop()
        first.stop()
        hook.stop()
