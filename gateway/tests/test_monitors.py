"""Schedule monitors on a controllable clock (evaluate_once(now)), over SQLite and PostgreSQL:
missed, overdue (while running, run by run), failing and recovery, too_often, cron with a time zone,
matching by the `monitor` name in metadata, and refusals in our words."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from wafermon_testkit.events import event, job_story, new_id

ADMIN = {"Authorization": "Bearer admin-key-0123456789"}
KEYS = [{"name": "ops", "key": "admin-key-0123456789", "scopes": ["admin"]}]


async def _setup(make_client: Callable[..., Awaitable[httpx.AsyncClient]], monitor: dict[str, Any]) -> Any:
    c = await make_client(api_keys=KEYS, alerting={"group_wait_s": 0})
    r = await c.put(f"/v1/monitors/{monitor['name']}", json=monitor, headers=ADMIN)
    assert r.status_code == 201, r.text
    created = datetime.fromisoformat(r.json()["created_at"])
    service = c.app.state.runtime.alerting  # type: ignore[attr-defined]

    async def state_at(offset_s: float) -> dict[str, Any]:
        await service.evaluate_once(created + timedelta(seconds=offset_s))
        got = await c.get(f"/v1/monitors/{monitor['name']}", headers=ADMIN)
        return dict(got.json())

    return c, created, state_at


async def _ingest(c: httpx.AsyncClient, events: list[dict[str, Any]]) -> None:
    r = await c.post("/v1/ingest/managed", json={"events": events}, headers=ADMIN)
    assert r.status_code == 200 and not r.json()["rejected"], r.text


async def _alerts(c: httpx.AsyncClient, state: str) -> list[dict[str, Any]]:
    return list((await c.get("/v1/alerts", params={"state": state}, headers=ADMIN)).json()["alerts"])


async def test_missed_then_a_run_makes_it_ok(make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    monitor = {"name": "hourly", "match": {"app": "backup"}, "schedule": {"interval_s": 60}, "start_grace_s": 10}
    c, created, state_at = await _setup(make_client, monitor)
    assert (await state_at(65))["state"] == "ok"  # the slot (60 s) is still within its grace
    missed = await state_at(71)
    assert missed["state"] == "missed" and missed["detail"]["expected_at"]
    [alert] = await _alerts(c, "firing")
    assert alert["alert_key"] == "monitor|hourly|missed" and "expected a start" in alert["summary"]
    await _ingest(c, job_story(app="backup", start=created + timedelta(seconds=72), outcome=None, progress_steps=0))
    assert (await state_at(75))["state"] == "ok"
    assert [a["alert_key"] for a in await _alerts(c, "resolved")] == ["monitor|hourly|missed"]


async def test_overdue_while_running_run_by_run(make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    monitor = {"name": "etl", "match": {"monitor": "etl"}, "schedule": {"interval_s": 3600}, "max_runtime_s": 30}
    c, created, state_at = await _setup(make_client, monitor)
    meta = {"monitor": "etl", "wafermon.heartbeat_s": 86400}
    long_run, short_run, other = new_id(), new_id(), new_id()
    await _ingest(c, [
        event("started", long_run, 0, created - timedelta(seconds=5), app="x", metadata=meta),
        event("started", short_run, 0, created + timedelta(seconds=20), app="x", metadata=meta),  # overlaps
        event("started", other, 0, created - timedelta(seconds=5), app="x", metadata={"monitor": "else",
                                                                                    "wafermon.heartbeat_s": 86400}),
    ])  # fmt: skip
    assert (await state_at(20))["state"] == "ok"
    over = await state_at(40)
    assert over["state"] == "overdue"
    [alert] = await _alerts(c, "firing")
    assert [i["job_id"] for i in alert["items"]] == [long_run]
    await _ingest(c, [event("finished", long_run, 1, created + timedelta(seconds=41), app="x", metadata=meta)])
    assert (await state_at(45))["state"] == "ok"


async def test_failing_until_recovery_threshold(make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    monitor = {"name": "lots", "match": {"app": "lot*", "business_key": "L-*"}, "schedule": {"interval_s": 3600},
               "failure_threshold": 2, "recovery_threshold": 2}  # fmt: skip
    c, created, state_at = await _setup(make_client, monitor)

    async def run(n: int, outcome: str) -> None:
        start = created + timedelta(seconds=10 * n)
        await _ingest(c, job_story(app="lotter", business_key=f"L-{n}", start=start, outcome=outcome,
                                   progress_steps=0))  # fmt: skip

    await run(0, "failed")
    assert (await state_at(5 + 0))["state"] == "ok"
    await run(1, "failed")
    assert (await state_at(20))["state"] == "failing"
    await run(2, "succeeded")
    assert (await state_at(30))["state"] == "failing"
    await run(3, "succeeded")
    assert (await state_at(40))["state"] == "ok"


async def test_too_often(make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    monitor = {"name": "once", "match": {"app": "rare"}, "schedule": {"interval_s": 3600}, "min_gap_s": 600}
    c, created, state_at = await _setup(make_client, monitor)
    for n in range(2):
        await _ingest(c, job_story(app="rare", start=created + timedelta(seconds=10 + n * 60), progress_steps=0))
    assert (await state_at(200))["state"] == "too_often"


async def test_cron_with_time_zone(make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    monitor = {"name": "nightly", "match": {"app": "nightly-backup"},
               "schedule": {"cron": "0 2 * * *", "tz": "Europe/Berlin"}, "start_grace_s": 600}  # fmt: skip
    _c, _created, state_at = await _setup(make_client, monitor)
    missed = await state_at(2 * 86400)
    assert missed["state"] == "missed"
    expected = datetime.fromisoformat(missed["detail"]["expected_at"])
    assert expected.hour == 2 and expected.minute == 0 and expected.utcoffset() in (timedelta(hours=1),
                                                                                     timedelta(hours=2))  # fmt: skip
    assert expected.astimezone(UTC).hour in (0, 1)


async def test_bad_monitors_are_refused(make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    c = await make_client(api_keys=KEYS)
    for body, word in [
        ({"name": "m", "match": {}, "schedule": {"interval_s": 60}}, "at least one of app"),
        ({"name": "m", "match": {"app": "a"}, "schedule": {"cron": "61 * * * *"}}, "not a valid crontab"),
        ({"name": "m", "match": {"app": "a"}, "schedule": {"cron": "0 2 * * *", "tz": "Nowhere/City"}}, "Nowhere"),
        ({"name": "m", "match": {"app": "a"}, "schedule": {"cron": "0 2 * * *", "interval_s": 60}}, "exactly one"),
        ({"name": "m", "match": {"app": "a"}, "schedule": {"interval_s": 60}, "notify": ["ghost"]}, "ghost"),
    ]:
        r = await c.post("/v1/monitors", json=body, headers=ADMIN)
        assert r.status_code == 400 and word in r.json()["error"], (body, r.text)
