"""store_unreachable against a real PostgreSQL whose database disappears (renamed away) and comes back:
the firing message goes straight to the notifier while the store is gone, the alert and its resolved
message are recorded once it is back. The receiver is a minimal real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from conftest import free_port

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
