"""store_unreachable against a real PostgreSQL whose database disappears (renamed away) or whose server
is stopped, and comes back: the firing message waits in a bounded in-memory queue and is retried while
the store is gone; the alert, any firing message still undelivered and the resolved message are
recorded once it is back. The receiver is a minimal real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from wafermon_gateway.alerting.direct import DirectMessage, DirectQueue
from wafermon_gateway.alerting.notifiers.base import Message
from wafermon_testkit import free_port
from wafermon_testkit.postgres import Postgres

ADMIN = {"Authorization": "Bearer admin-key-0123456789"}
KEYS = [{"name": "ops", "key": "admin-key-0123456789", "scopes": ["admin"]}]


async def _receiver(port: int, got: list[dict[str, Any]]) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
        got.append(json.loads(await reader.readexactly(length)))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port)


async def _rename(server_dsn: str, old: str, new: str) -> None:
    admin = await asyncpg.connect(server_dsn)
    try:
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", old)
        await admin.execute(f"ALTER DATABASE {old} RENAME TO {new}")
    finally:
        await admin.close()


async def test_store_unreachable_fires_directly_and_is_recorded_when_back(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]], pg_database: str, backend: str
) -> None:
    if backend != "postgres":
        pytest.skip("a SQLite file cannot be taken away from an open connection; PostgreSQL shows the case")
    got: list[dict[str, Any]] = []
    port = free_port()
    server = await _receiver(port, got)
    c = await make_client(api_keys=KEYS, alerting={"group_wait_s": 0})
    hook = {"type": "webhook", "config": {"url": f"http://127.0.0.1:{port}/hook"}}
    assert (await c.put("/v1/alerting/notifiers/hook", json=hook, headers=ADMIN)).status_code == 201
    rule = {"kind": "store_unreachable", "notify": ["hook"]}
    assert (await c.put("/v1/alerting/rules/store", json=rule, headers=ADMIN)).status_code == 201
    service = c.app.state.runtime.alerting  # type: ignore[attr-defined]
    server_dsn, name = pg_database.rsplit("/", 1)
    try:
        await _rename(server_dsn + "/postgres", name, name + "_away")
        await service.evaluate_once()
        assert [m["event"] for m in got] == ["firing"] and "unreachable" in got[0]["alert"]["summary"]
        await service.evaluate_once()  # still down: told once, not every tick
        assert len(got) == 1
    finally:
        await _rename(server_dsn + "/postgres", name + "_away", name)
    await service.evaluate_once()
    assert await service.dispatcher.run_once() == 1
    assert [m["event"] for m in got] == ["firing", "resolved"]
    alerts = (await c.get("/v1/alerts", params={"rule": "store"}, headers=ADMIN)).json()["alerts"]
    assert [a["state"] for a in alerts] == ["resolved"]
    server.close()
    await server.wait_closed()


async def test_store_unreachable_message_waits_for_the_notifier_and_is_persisted_when_the_store_is_back(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]], pg_cluster: Postgres, backend: str
) -> None:
    """A real PostgreSQL server stopped and restarted (pg_ctl) while the notifier is down too: the firing
    message is kept in memory and retried, then persisted in the outbox when the store is back, and
    delivered (firing, then resolved) once the notifier is back."""
    if backend != "postgres":
        pytest.skip("the PostgreSQL server itself is stopped and restarted")
    admin = await asyncpg.connect(pg_cluster.dsn)
    await admin.execute("CREATE DATABASE gw")
    await admin.close()
    got: list[dict[str, Any]] = []
    port = free_port()
    c = await make_client(api_keys=KEYS, database_url=pg_cluster.dsn.rsplit("/", 1)[0] + "/gw",
                          alerting={"group_wait_s": 0, "backoff_initial_s": 0.01, "backoff_max_s": 0.01})  # fmt: skip
    hook = {"type": "webhook", "config": {"url": f"http://127.0.0.1:{port}/hook"}}
    assert (await c.put("/v1/alerting/notifiers/hook", json=hook, headers=ADMIN)).status_code == 201
    rule = {"kind": "store_unreachable", "notify": ["hook"]}
    assert (await c.put("/v1/alerting/rules/store", json=rule, headers=ADMIN)).status_code == 201
    service = c.app.state.runtime.alerting  # type: ignore[attr-defined]
    pg_cluster.stop()
    for _ in range(3):  # store and notifier down: queued and retried, never lost
        await service.evaluate_once()
        await asyncio.sleep(0.02)
    assert len(service.direct) == 1 and service.direct.pending()[0].attempts == 3
    pg_cluster.start()
    await service.evaluate_once()  # the store is back: recorded, the late firing message is persisted
    assert len(service.direct) == 0
    outbox = await service.repo.outbox()
    assert [(r["event"], r["state"]) for r in outbox] == [("firing", "pending"), ("resolved", "pending")]
    assert await service.dispatcher.run_once() == 0  # the notifier is still down: kept pending
    server = await _receiver(port, got)
    try:
        for row in await service.repo.outbox():  # not waiting out the backoff
            await service.repo.db.execute("UPDATE alert_outbox SET next_attempt_at = created_at WHERE outbox_id = ?",
                                          row["outbox_id"])  # fmt: skip
        assert await service.dispatcher.run_once() == 2
    finally:
        server.close()
        await server.wait_closed()
    assert [m["event"] for m in got] == ["firing", "resolved"] and "unreachable" in got[0]["alert"]["summary"]
    assert {r["state"] for r in await service.repo.outbox()} == {"sent"}


async def test_store_unreachable_message_retried_while_the_store_is_down(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]], pg_cluster: Postgres, backend: str
) -> None:
    """The notifier comes back before the store: the queued message is delivered by a retry, once, and
    only the resolved message goes through the outbox later."""
    if backend != "postgres":
        pytest.skip("the PostgreSQL server itself is stopped and restarted")
    got: list[dict[str, Any]] = []
    port = free_port()
    c = await make_client(api_keys=KEYS, database_url=pg_cluster.dsn,
                          alerting={"group_wait_s": 0, "backoff_initial_s": 0.01, "backoff_max_s": 0.01})  # fmt: skip
    hook = {"type": "webhook", "config": {"url": f"http://127.0.0.1:{port}/hook"}}
    assert (await c.put("/v1/alerting/notifiers/hook", json=hook, headers=ADMIN)).status_code == 201
    assert (await c.put("/v1/alerting/rules/store", json={"kind": "store_unreachable", "notify": ["hook"]},
                        headers=ADMIN)).status_code == 201  # fmt: skip
    service = c.app.state.runtime.alerting  # type: ignore[attr-defined]
    pg_cluster.stop()
    await service.evaluate_once()
    assert got == [] and len(service.direct) == 1
    server = await _receiver(port, got)
    try:
        await asyncio.sleep(0.02)
        await service.evaluate_once()
        await service.evaluate_once()
        assert [m["event"] for m in got] == ["firing"] and len(service.direct) == 0
        pg_cluster.start()
        await service.evaluate_once()
        assert await service.dispatcher.run_once() == 1
    finally:
        server.close()
        await server.wait_closed()
    assert [m["event"] for m in got] == ["firing", "resolved"]


def test_direct_queue_is_bounded_and_drops_the_oldest() -> None:
    outcomes: list[str] = []
    queue = DirectQueue(2, 1.0, lambda _n: 1.0, lambda _n, outcome: outcomes.append(outcome))
    since = datetime.now(UTC)
    for n in range(3):
        queue.add(DirectMessage(f"r{n}", "hook", Message(str(n), "firing", {}, ""), since))
    assert [d.rule for d in queue.pending()] == ["r1", "r2"] and outcomes == ["dropped"]
