"""Sidecar heartbeats in the gateway over SQLite and PostgreSQL (in process, controllable clock):
stored and listed with the gateway's last-seen time, bad reports refused naming the field, and the
ingest_lag and sidecar_silent rules firing and resolving."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

ADMIN = {"Authorization": "Bearer admin-key-0123456789"}
KEYS = [{"name": "ops", "key": "admin-key-0123456789", "scopes": ["admin"]}]


def report(lag: int = 0, age: float | None = None, sidecar_id: str = "sc-1", host: str = "tool-7") -> dict[str, Any]:
    return {"sidecar_id": sidecar_id, "host": host, "version": "0.1.0", "uptime_s": 12.5, "interval_s": 10,
            "backends": [{"name": "gateway", "type": "managed_api", "lag_events": 0, "lag_bytes": 0},
                         {"name": "archive", "type": "webhook", "lag_events": lag, "lag_bytes": 700 * lag,
                          "oldest_age_s": age, "state": "retrying" if lag else "ok",
                          "last_error": "connection refused" if lag else None}],
            "errors": ["archive: connection refused"] if lag else []}  # fmt: skip


async def _setup(make_client: Callable[..., Awaitable[httpx.AsyncClient]], *rules: dict[str, Any]) -> Any:
    c = await make_client(api_keys=KEYS, alerting={"group_wait_s": 0})
    for rule in rules:
        r = await c.put(f"/v1/alerting/rules/{rule['name']}", json=rule, headers=ADMIN)
        assert r.status_code == 201, r.text
    return c, c.app.state.runtime.alerting  # type: ignore[attr-defined]


async def _beat(c: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await c.post("/v1/sidecars/heartbeat", json=body, headers=ADMIN)


async def _active(c: httpx.AsyncClient, rule: str) -> list[dict[str, Any]]:
    alerts = (await c.get("/v1/alerts", params={"rule": rule}, headers=ADMIN)).json()["alerts"]
    return [a for a in alerts if a["state"] != "resolved"]


async def test_heartbeats_are_stored_and_listed(make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    c, _service = await _setup(make_client)
    before = datetime.now(UTC)
    r = await _beat(c, report())
    assert r.status_code == 200 and r.json() == {"sidecar_id": "sc-1", "first": True}
    assert (await _beat(c, report(lag=5, age=3.0))).json()["first"] is False
    await _beat(c, report(sidecar_id="sc-2", host="tool-8"))
    listed = (await c.get("/v1/sidecars", headers=ADMIN)).json()["sidecars"]
    assert [(s["host"], s["sidecar_id"]) for s in listed] == [("tool-7", "sc-1"), ("tool-8", "sc-2")]
    one = listed[0]
    assert one["backends"][1]["lag_events"] == 5 and one["errors"] == ["archive: connection refused"]
    assert datetime.fromisoformat(one["last_seen_at"]) >= before and one["silent_s"] < 60


async def test_bad_heartbeats_are_refused_naming_the_field(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]],
) -> None:
    c, _service = await _setup(make_client)
    bad_lag = report()
    bad_lag["backends"][0]["lag_events"] = -1
    for body, field in ((bad_lag, "backends.0.lag_events"), ({**report(), "interval_s": 0}, "interval_s"),
                        ({**report(), "colour": "red"}, "colour"), ({**report(), "host": ""}, "host")):  # fmt: skip
        r = await _beat(c, body)
        assert r.status_code == 400 and field in r.json()["error"], r.text
    assert (await c.get("/v1/sidecars", headers=ADMIN)).json()["sidecars"] == []


async def test_ingest_lag_fires_per_host_and_backend_and_resolves(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]],
) -> None:
    rule = {"name": "lag", "kind": "ingest_lag", "params": {"max_events": 100, "max_age_s": 300, "backend": "arch*"}}
    c, service = await _setup(make_client, rule)
    await _beat(c, report(lag=50, age=10.0))
    await service.evaluate_once()
    assert await _active(c, "lag") == []  # under both limits
    await _beat(c, report(lag=50, age=400.0))
    await service.evaluate_once()
    [alert] = await _active(c, "lag")
    assert alert["scope"] == {"host": "tool-7", "sidecar_id": "sc-1", "backend": "archive"}
    assert "oldest waiting 400 s" in alert["summary"]
    await _beat(c, report(lag=500, age=400.0))
    await service.evaluate_once()
    [same] = await _active(c, "lag")
    assert same["alert_id"] == alert["alert_id"] and "500 events behind" in same["summary"]
    await _beat(c, report())
    await service.evaluate_once()
    assert await _active(c, "lag") == []


async def test_sidecar_silent_after_missed_intervals(make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    rule = {"name": "silent", "kind": "sidecar_silent", "params": {"missed_intervals": 3}}
    c, service = await _setup(make_client, rule)
    await _beat(c, report())  # interval_s 10
    now = datetime.now(UTC)
    await service.evaluate_once(now + timedelta(seconds=25))
    assert await _active(c, "silent") == []
    await service.evaluate_once(now + timedelta(seconds=35))
    [alert] = await _active(c, "silent")
    assert alert["scope"] == {"host": "tool-7", "sidecar_id": "sc-1"} and "has not reported" in alert["summary"]
    await _beat(c, report())
    await service.evaluate_once(datetime.now(UTC))
    assert await _active(c, "silent") == []


async def test_sidecar_rule_params_are_checked(make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    c, _service = await _setup(make_client)
    silent = {"kind": "sidecar_silent", "params": {"missed_intervals": 0}}
    for rule, words in (({"kind": "ingest_lag"}, "max_events or max_age_s"), (silent, "missed_intervals")):
        r = await c.put("/v1/alerting/rules/x", json=rule, headers=ADMIN)
        assert r.status_code == 400 and words in r.json()["error"], r.text
