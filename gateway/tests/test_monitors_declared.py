"""Schedule monitors declared from SDK code (`metadata["wafermon.monitor"]` on a job's events), over
SQLite and PostgreSQL: created at the first run, updated by a changed declaration, ignored (with a
note) when the gateway's settings or API configure the same name, and bad declarations refused with
the field named while the job's events are kept."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from wafermon_testkit.events import event, new_id

ADMIN = {"Authorization": "Bearer admin-key-0123456789"}
KEYS = [{"name": "ops", "key": "admin-key-0123456789", "scopes": ["admin"]}]


async def _client(make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> tuple[httpx.AsyncClient, Any]:
    c = await make_client(api_keys=KEYS, alerting={"group_wait_s": 0})
    return c, c.app.state.runtime.alerting  # type: ignore[attr-defined]


async def _run(c: httpx.AsyncClient, service: Any, app: str, declaration: Any, when: datetime) -> str:
    """One job start declaring a monitor; returns the job id once the declaration was handled."""
    job = new_id()
    meta = {"wafermon.monitor": declaration, "wafermon.heartbeat_s": 86400}
    r = await c.post("/v1/ingest/managed", json={"events": [event("started", job, 0, when, app=app, metadata=meta)]},
                     headers=ADMIN)  # fmt: skip
    assert r.status_code == 200 and r.json()["accepted"] == 1 and not r.json()["rejected"], r.text
    if service._pending:
        await asyncio.wait(set(service._pending))
    return job


async def _monitors(c: httpx.AsyncClient) -> dict[str, Any]:
    r = await c.get("/v1/monitors", headers=ADMIN)
    assert r.status_code == 200, r.text
    return dict(r.json())


async def test_declared_at_the_first_run_then_missed_and_updated(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]],
) -> None:
    c, service = await _client(make_client)
    t0 = datetime.now(UTC)
    await _run(c, service, "nightly-backup", {"interval_s": 60, "start_grace_s": 10, "max_runtime_s": 3600}, t0)
    [m] = (await _monitors(c))["monitors"]
    assert m["name"] == "nightly-backup" and m["origin"] == "code" and m["match"] == {"monitor": "nightly-backup",
           "app": None, "business_key": None, "site": None}  # fmt: skip
    assert m["schedule"]["interval_s"] == 60 and m["max_runtime_s"] == 3600 and m["state"] == "ok"
    await service.evaluate_once(t0 + timedelta(seconds=65))
    assert (await _monitors(c))["monitors"][0]["state"] == "ok"  # its run counts: the next slot is at 60 s
    await service.evaluate_once(t0 + timedelta(seconds=71))
    assert (await _monitors(c))["monitors"][0]["state"] == "missed"
    # A later run with a changed declaration updates the monitor.
    cron = {"schedule": "0 2 * * *", "tz": "Europe/Berlin"}
    await _run(c, service, "nightly-backup", cron, t0 + timedelta(seconds=72))
    [m] = (await _monitors(c))["monitors"]
    assert m["schedule"] == {"cron": "0 2 * * *", "tz": "Europe/Berlin", "interval_s": None}
    assert m["max_runtime_s"] is None and m["origin"] == "code"


async def test_named_declaration_and_the_runs_it_matches(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]],
) -> None:
    c, service = await _client(make_client)
    t0 = datetime.now(UTC)
    await _run(c, service, "etl", {"name": "etl-eu", "interval_s": 3600, "max_runtime_s": 30}, t0)
    await _run(c, service, "etl", {"name": "etl-us", "interval_s": 3600, "max_runtime_s": 3000}, t0)
    await service.evaluate_once(t0 + timedelta(seconds=40))
    states = {m["name"]: m["state"] for m in (await _monitors(c))["monitors"]}
    assert states == {"etl-eu": "overdue", "etl-us": "ok"}  # each monitor sees only its own run


async def test_configured_monitor_wins_over_the_declaration(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]], caplog: pytest.LogCaptureFixture
) -> None:
    c, service = await _client(make_client)
    configured = {"name": "backup", "match": {"app": "backup"}, "schedule": {"interval_s": 600}}
    assert (await c.put("/v1/monitors/backup", json=configured, headers=ADMIN)).status_code == 201
    with caplog.at_level("INFO", logger="wafermon.gateway.alerting"):
        await _run(c, service, "backup", {"interval_s": 60}, datetime.now(UTC))
    [m] = (await _monitors(c))["monitors"]
    assert m["origin"] == "api" and m["schedule"]["interval_s"] == 600 and m["match"]["app"] == "backup"
    assert any("declaration in the code of app backup is ignored" in r.getMessage() for r in caplog.records)
    # Deleted through the API: the next run declares it again.
    assert (await c.delete("/v1/monitors/backup", headers=ADMIN)).status_code == 204
    await _run(c, service, "backup", {"interval_s": 60}, datetime.now(UTC))
    [m] = (await _monitors(c))["monitors"]
    assert m["origin"] == "code" and m["schedule"]["interval_s"] == 60


@pytest.mark.parametrize(
    ("declaration", "field", "words"),
    [
        ("0 2 * * *", "metadata.wafermon.monitor", "must be a JSON object"),
        ({"interval_s": 60, "max_runtime": 5}, "metadata.wafermon.monitor.max_runtime", "not a monitor setting"),
        ({"max_runtime_s": 5}, "metadata.wafermon.monitor.schedule", "exactly one of schedule"),
        ({"schedule": "0 2 * *x *"}, "metadata.wafermon.monitor.schedule", "not a valid crontab"),
        ({"schedule": "0 2 * * *", "tz": "Mars/Olympus"}, "metadata.wafermon.monitor.tz", "unknown time zone"),
        ({"interval_s": 1}, "metadata.wafermon.monitor.interval_s", "must be >= 10"),
        ({"interval_s": 60, "max_runtime_s": "long"}, "metadata.wafermon.monitor.max_runtime_s", "wrong type"),
        ({"interval_s": 60, "name": "no spaces please"}, "metadata.wafermon.monitor.name", "letters, digits"),
    ],
)
async def test_bad_declarations_are_refused_naming_the_field_and_the_job_is_kept(
    make_client: Callable[..., Awaitable[httpx.AsyncClient]], declaration: Any, field: str, words: str
) -> None:
    c, service = await _client(make_client)
    job = await _run(c, service, "app1", declaration, datetime.now(UTC))
    listing = await _monitors(c)
    assert listing["monitors"] == []
    [refused] = listing["declaration_errors"]
    assert refused["field"] == field and words in refused["message"] and refused["job_id"] == job, refused
    got = await c.get(f"/v1/jobs/{job}", headers=ADMIN)
    assert got.status_code == 200 and got.json()["job"]["status"] == "running"
