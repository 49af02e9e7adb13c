"""Alerting API and lifecycle in-process, over SQLite and PostgreSQL: rule/notifier CRUD with the
admin scope, refusals in our words, job_failed on ingest, grouping of a burst, consecutive failures
and recovery, windowed rules, acknowledge and silence, and the outbox rows they leave."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from wafermon_testkit.events import event, job_story, new_id

ADMIN = {"Authorization": "Bearer admin-key-0123456789"}
READ = {"Authorization": "Bearer read-key-01234567890"}
KEYS = [
    {"name": "ops", "key": "admin-key-0123456789", "scopes": ["admin"]},
    {"name": "viewer", "key": "read-key-01234567890", "scopes": ["read"]},
]
HOOK = {"name": "hook", "type": "webhook", "config": {"url": "http://127.0.0.1:9/never", "secret": "s3cret"}}


async def _client(make_client: Callable[..., Awaitable[httpx.AsyncClient]], **alerting: Any) -> httpx.AsyncClient:
    return await make_client(api_keys=KEYS, alerting={"group_wait_s": 0, **alerting})


async def _wait_for(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def _alerts(c: httpx.AsyncClient, state: str | None = None) -> list[dict[str, Any]]:
    r = await c.get("/v1/alerts", params={"state": state} if state else {}, headers=READ)
    assert r.status_code == 200, r.text
    return list(r.json()["alerts"])


async def _outbox(c: httpx.AsyncClient) -> list[dict[str, Any]]:
    return list((await c.get("/v1/alerting/outbox", headers=ADMIN)).json()["outbox"])


async def _ingest(c: httpx.AsyncClient, events: list[dict[str, Any]]) -> None:
    r = await c.post("/v1/ingest/managed", json={"events": events}, headers=ADMIN)
    assert r.status_code == 200 and not r.json()["rejected"], r.text


async def test_rules_and_notifiers_crud_need_admin(make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    c = await _client(make_client)
    assert (await c.get("/v1/alerting/rules")).status_code == 401
    assert (await c.get("/v1/alerting/rules", headers=READ)).status_code == 403
    assert (await c.post("/v1/alerting/notifiers", json=HOOK, headers=ADMIN)).status_code == 201
    assert (await c.post("/v1/alerting/notifiers", json=HOOK, headers=ADMIN)).status_code == 409
    rule = {"name": "fails", "kind": "job_failed", "scope": {"app": "etch-*"}, "params": {"consecutive": 2},
            "cooldown_s": 60, "notify": ["hook"]}  # fmt: skip
    r = await c.post("/v1/alerting/rules", json=rule, headers=ADMIN)
    assert r.status_code == 201, r.text
    got = (await c.get("/v1/alerting/rules/fails", headers=ADMIN)).json()
    assert got["params"] == {"consecutive": 2} and got["scope"]["app"] == "etch-*"
    r = await c.put("/v1/alerting/rules/fails", json={**rule, "cooldown_s": 5}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["cooldown_s"] == 5
    assert [x["name"] for x in (await c.get("/v1/alerting/rules", headers=ADMIN)).json()["rules"]] == ["fails"]
    # A notifier in use cannot be deleted; the rule can, then the notifier.
    assert (await c.delete("/v1/alerting/notifiers/hook", headers=ADMIN)).status_code == 409
    assert (await c.delete("/v1/alerting/rules/fails", headers=ADMIN)).status_code == 204
    assert (await c.get("/v1/alerting/rules/fails", headers=ADMIN)).status_code == 404
    assert (await c.delete("/v1/alerting/notifiers/hook", headers=ADMIN)).status_code == 204


async def test_bad_rules_and_notifiers_are_refused_by_name(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]],
) -> None:
    c = await _client(make_client)
    cases = [
        ({"name": "x", "kind": "nope"}, "kind"),
        ({"name": "x", "kind": "memory", "params": {}}, "limit_mb"),
        ({"name": "x", "kind": "job_failed", "params": {"consecutiv": 2}}, "consecutiv"),
        ({"name": "x", "kind": "long_running", "params": {}}, "exactly one of limit_s or p95_factor"),
        ({"name": "x", "kind": "silence", "params": {"window_s": 60, "tz": "Mars/Olympus"}}, "Mars/Olympus"),
        ({"name": "x", "kind": "job_failed", "notify": ["ghost"]}, "ghost"),
        ({"name": "bad name!", "kind": "job_failed"}, "name"),
    ]
    for body, word in cases:
        r = await c.post("/v1/alerting/rules", json=body, headers=ADMIN)
        assert r.status_code == 400 and word in r.json()["error"], (body, r.text)
    r = await c.post("/v1/alerting/rules", content=b"{oops", headers=ADMIN)
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    r = await c.put("/v1/alerting/rules/a", json={"name": "b", "kind": "lost"}, headers=ADMIN)
    assert r.status_code == 400 and "differs from the URL" in r.json()["error"]
    for spec, word in [
        ({"name": "n", "type": "carrier-pigeon"}, "unknown notifier type"),
        ({"name": "n", "type": "webhook", "config": {"url": "ftp://x"}}, "config.url"),
        ({"name": "n", "type": "email", "config": {"host": "h", "from": "a@b", "to": "c@d"}}, "config.to"),
    ]:
        r = await c.post("/v1/alerting/notifiers", json=spec, headers=ADMIN)
        assert r.status_code == 400 and word in r.json()["error"], (spec, r.text)
    r = await c.get("/v1/alerts", params={"state": "burning"}, headers=READ)
    assert r.status_code == 400 and r.json()["field"] == "state"


async def _setup(c: httpx.AsyncClient, rule: dict[str, Any]) -> None:
    assert (await c.put("/v1/alerting/notifiers/hook", json=HOOK, headers=ADMIN)).status_code in (200, 201)
    r = await c.put(f"/v1/alerting/rules/{rule['name']}", json={"notify": ["hook"], **rule}, headers=ADMIN)
    assert r.status_code in (200, 201), r.text


async def test_burst_of_failures_is_one_alert_one_message_and_replays_add_nothing(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]],
) -> None:
    c = await _client(make_client, max_items=20)
    await _setup(c, {"name": "fails", "kind": "job_failed", "cooldown_s": 3600})
    stories = [job_story(outcome="failed", progress_steps=0, business_key=f"b-{i}") for i in range(200)]
    burst = [e for story in stories for e in story]
    for i in range(0, len(burst), 100):
        await _ingest(c, burst[i : i + 100])

    async def all_counted() -> Any:
        alerts = await _alerts(c, "firing")
        return alerts if alerts and alerts[0]["item_count"] == 200 else None

    alerts = await _wait_for(all_counted)
    assert len(alerts) == 1 and len(alerts[0]["items"]) == 20
    assert alerts[0]["scope"] == {"site_id": "fab1", "app": "etch-line"}
    assert alerts[0]["items"][0]["error"] == {"type": "RuntimeError", "message": "boom"}
    # A replay of the same events is no new failure.
    await _ingest(c, burst[:100])
    await asyncio.sleep(0.3)
    assert (await _alerts(c, "firing"))[0]["item_count"] == 200
    rows = await _outbox(c)
    assert [(r["notifier"], r["event"], r["state"]) for r in rows] == [("hook", "firing", "pending")]


async def test_consecutive_failures_then_recovery(make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    c = await _client(make_client)
    rule = {"name": "streak", "kind": "job_failed", "params": {"consecutive": 3, "recovery_after": 2}}
    await _setup(c, rule)
    t0 = datetime.now(UTC) - timedelta(minutes=10)

    async def run(outcome: str, n: int) -> None:
        start = t0 + timedelta(seconds=10 * n)
        await _ingest(c, job_story(outcome=outcome, progress_steps=0, start=start, business_key="lot-7"))
        await asyncio.sleep(0.15)

    for n in range(2):
        await run("failed", n)
    assert await _alerts(c) == []
    await run("failed", 2)
    firing = await _wait_for(lambda: _alerts(c, "firing"))
    assert firing[0]["alert_key"] == "streak|fab1|etch-line|lot-7" and "3 consecutive" in firing[0]["summary"]
    await run("succeeded", 3)
    assert len(await _alerts(c, "firing")) == 1  # one success is not yet recovery
    await run("succeeded", 4)
    resolved = await _wait_for(lambda: _alerts(c, "resolved"))
    assert resolved[0]["alert_id"] == firing[0]["alert_id"] and resolved[0]["resolved_at"]
    assert [r["event"] for r in await _outbox(c)] == ["firing", "resolved"]


async def test_windowed_rules_fire_and_resolve(make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    c = await _client(make_client)
    app: Any = c.app  # type: ignore[attr-defined]
    service = app.state.runtime.alerting
    for rule in [
        {"name": "rate", "kind": "failure_rate", "params": {"window_s": 3600, "threshold": 0.5, "min_jobs": 4}},
        {"name": "mem", "kind": "memory", "params": {"limit_mb": 1000}},
        {"name": "slow", "kind": "long_running", "params": {"limit_s": 60}},
        {"name": "quiet", "kind": "silence", "scope": {"app": "etch-line"}, "params": {"window_s": 600}},
    ]:
        await _setup(c, rule)
    now = datetime.now(UTC)
    for i in range(4):
        await _ingest(c, job_story(outcome="failed" if i < 3 else "succeeded", progress_steps=0))
    heavy = job_story(progress_steps=0, app="mill")
    heavy[-1]["metrics"] = {"duration_s": 3.0, "mem_max_mb": 4096.0}
    await _ingest(c, heavy)
    stuck = new_id()
    await _ingest(c, [event("started", stuck, 0, now - timedelta(seconds=120), app="oven",
                            metadata={"wafermon.heartbeat_s": 3600})])  # fmt: skip
    await service.evaluate_once(now)
    firing = {a["rule"]: a for a in await _alerts(c, "firing")}
    assert set(firing) == {"rate", "mem", "slow"}, firing
    assert firing["mem"]["scope"]["app"] == "mill" and firing["slow"]["items"][0]["job_id"] == stuck
    assert "3 of 4" in firing["rate"]["summary"]
    # An hour on: the window is empty, the oven job finished, etch-line fell silent.
    await _ingest(c, [event("finished", stuck, 1, now, app="oven", status="succeeded")])
    later = now + timedelta(hours=2)
    await service.evaluate_once(later)
    firing = {a["rule"]: a for a in await _alerts(c, "firing")}
    assert set(firing) == {"quiet"}, firing
    assert {a["rule"] for a in await _alerts(c, "resolved")} == {"rate", "mem", "slow"}


async def test_acknowledge_and_silence(make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    c = await _client(make_client)
    await _setup(c, {"name": "fails", "kind": "job_failed", "cooldown_s": 0})
    await _ingest(c, job_story(outcome="failed", progress_steps=0))
    alert = (await _wait_for(lambda: _alerts(c, "firing")))[0]
    r = await c.post(f"/v1/alerts/{alert['alert_id']}/ack", headers=READ)
    assert r.status_code == 403
    r = await c.post(f"/v1/alerts/{alert['alert_id']}/ack", headers=ADMIN)
    assert r.status_code == 200 and r.json()["state"] == "acknowledged" and r.json()["acked_by"] == "ops"
    assert (await c.post(f"/v1/alerts/{alert['alert_id']}/ack", headers=ADMIN)).status_code == 409
    r = await c.post(f"/v1/alerts/{alert['alert_id']}/silence", json={"duration_s": 3600}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["silenced_until"]
    assert (await c.post("/v1/alerts/nope/silence", json={"duration_s": 1}, headers=ADMIN)).status_code == 404
    # Further failures while acknowledged: collected, no new message; a silenced resolve sends nothing.
    await _ingest(c, job_story(outcome="failed", progress_steps=0))
    await _wait_for(lambda: _alerts(c, "acknowledged"))
    await _ingest(c, job_story(outcome="succeeded", progress_steps=0))
    await _wait_for(lambda: _alerts(c, "resolved"))
    assert [r["event"] for r in await _outbox(c)] == ["firing"]


async def test_lost_orphaned_and_p95_rules(make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    c = await _client(make_client, evaluate_interval_s=3600)
    app: Any = c.app  # type: ignore[attr-defined]
    service = app.state.runtime.alerting
    for rule in [
        {"name": "lost", "kind": "lost"},
        {"name": "orphans", "kind": "orphaned"},
        {"name": "slower", "kind": "long_running", "scope": {"app": "kiln"}, "params": {"p95_factor": 2}},
    ]:
        await _setup(c, rule)
    now = datetime.now(UTC)
    # lost: a job whose 1 s heartbeat allowance (x3) ran out long ago.
    silent = new_id()
    await _ingest(c, [event("started", silent, 0, now - timedelta(seconds=30), app="press",
                            metadata={"wafermon.heartbeat_s": 1})])  # fmt: skip
    # orphaned: a sub-job still running when its job finished.
    parent, child = new_id(), new_id()
    await _ingest(c, [
        event("started", parent, 0, now - timedelta(seconds=5), app="saw"),
        event("started", child, 0, now - timedelta(seconds=4), app="saw", entity_type="subjob", parent_id=parent,
              sub_key="w1"),
        event("finished", parent, 1, now - timedelta(seconds=3), app="saw", status="failed"),
    ])  # fmt: skip
    # p95: five kiln runs of 10 s; one running for 60 s is over 2 x p95.
    for i in range(5):
        story = job_story(progress_steps=0, app="kiln", start=now - timedelta(minutes=10 + i))
        story[-1]["metrics"] = {"duration_s": 10.0}
        await _ingest(c, story)
    slow = new_id()
    await _ingest(c, [event("started", slow, 0, now - timedelta(seconds=60), app="kiln",
                            metadata={"wafermon.heartbeat_s": 3600})])  # fmt: skip
    assert (await c.post("/v1/admin/maintenance", headers=ADMIN)).status_code == 200
    await service.evaluate_once()
    firing = {a["rule"]: a for a in await _alerts(c, "firing")}
    assert set(firing) >= {"lost", "orphans", "slower"}, firing
    assert [i["job_id"] for i in firing["lost"]["items"]] == [silent]
    assert [i["job_id"] for i in firing["orphans"]["items"]] == [child]
    assert [i["job_id"] for i in firing["slower"]["items"]] == [slow] and "longer than 20 s" in firing["slower"][
        "summary"
    ]


async def test_cooldown_collects_then_sends_one_update(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]],
) -> None:
    c = await _client(make_client)
    app: Any = c.app  # type: ignore[attr-defined]
    await _setup(c, {"name": "fails", "kind": "job_failed", "cooldown_s": 1})
    await _ingest(c, job_story(outcome="failed", progress_steps=0, business_key="first"))
    await _wait_for(lambda: _alerts(c, "firing"))
    for key in ("second", "third"):
        await _ingest(c, job_story(outcome="failed", progress_steps=0, business_key=key))
    await _wait_for(lambda: _count_is(c, 3))
    assert [r["event"] for r in await _outbox(c)] == ["firing"]  # within the cooldown: collected only
    await asyncio.sleep(1.1)
    await app.state.runtime.alerting.evaluate_once()
    assert [r["event"] for r in await _outbox(c)] == ["firing", "firing"]  # one update for both
    await app.state.runtime.alerting.evaluate_once()
    assert len(await _outbox(c)) == 2  # nothing new since: no further message


async def _count_is(c: httpx.AsyncClient, n: int) -> bool:
    alerts = await _alerts(c, "firing")
    return bool(alerts) and alerts[0]["item_count"] == n


def test_alerting_settings_from_the_environment() -> None:
    from wafermon_gateway.settings import SettingsError, load_settings

    env = {"WAFERMON_GATEWAY_ALERTING": '{"group_wait_s": 2, "rules": [{"name": "r", "kind": "lost"}]}'}
    settings = load_settings(environ=env)
    assert settings.alerting.group_wait_s == 2 and settings.alerting.rules[0].kind == "lost"
    try:
        load_settings(environ={"WAFERMON_GATEWAY_ALERTING": "{nope"})
    except SettingsError as exc:
        assert "WAFERMON_GATEWAY_ALERTING must be JSON" in str(exc)
    else:
        raise AssertionError("bad JSON was accepted")
