"""The hourly pre-aggregate (store/hourly.py) on both backends: after any ingests it equals an
aggregation of the jobs table from scratch, including late and out-of-order events, replayed
(duplicate) events, status transitions (a running job that fails moves its count) and the liveness
sweep; the migration back-fills it from jobs already stored."""

from __future__ import annotations

import asyncio
import random
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_store import ingest

from wafermon_gateway.liveness import iso
from wafermon_gateway.settings import Settings
from wafermon_gateway.stats import fold_overview
from wafermon_gateway.store import Store, make_store
from wafermon_gateway.store.hourly import TABLES, Deltas, floor_hour, from_scratch, hist_quantile
from wafermon_gateway.store.postgres import PostgresStore, _normalise
from wafermon_gateway.store.stats import Scope, _overview_jobs, history, overview
from wafermon_testkit.events import event, new_id

NOW = datetime.now(UTC).replace(minute=30, second=0, microsecond=0)


async def _rows(store: Store, sql: str) -> list[dict[str, Any]]:
    if isinstance(store, PostgresStore):
        return [_normalise(r) for r in await store.pool.fetch(sql)]
    return await store._run(lambda: [dict(r) for r in store.conn.execute(sql)])  # type: ignore[attr-defined]


def _canonical(d: Deltas) -> tuple[set[tuple[Any, ...]], ...]:
    """Rows with times as ISO text; empty cells (all zero) dropped, as the tables may keep them."""
    counts = {(iso(r[0]), *r[1:]) for r in d.count_rows() if r[4] or r[5] or r[6]}
    return counts, {(iso(r[0]), *r[1:]) for r in d.hist_rows()}, {(iso(r[0]), *r[1:]) for r in d.error_rows()}


async def stored_aggregate(store: Store) -> tuple[set[tuple[Any, ...]], ...]:
    out = []
    for table in TABLES:
        rows = await _rows(store, f"SELECT * FROM {table}")
        keep = set()
        for r in rows:
            values = list(r.values())
            hour = values[0]
            values[0] = iso(hour) if isinstance(hour, datetime) else hour
            if table == "job_hourly" and not (values[4] or values[5] or values[6]):
                continue
            if table != "job_hourly" and not values[-1]:
                continue
            keep.add(tuple(values))
        out.append(keep)
    return tuple(out)


async def expected_aggregate(store: Store) -> tuple[set[tuple[Any, ...]], ...]:
    return _canonical(from_scratch(await _rows(store, "SELECT * FROM jobs")))


@st.composite
def workload(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Events of a few jobs over three hours: random sites, apps, statuses, metrics, error types,
    sequence numbers and times (so events arrive late and out of order), with replays."""
    events: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 4))):
        jid = new_id()
        site, app = draw(st.sampled_from(["fab1", "fab2"])), draw(st.sampled_from(["etch", "litho"]))
        base = NOW - timedelta(minutes=draw(st.integers(0, 179)))
        for i in range(draw(st.integers(1, 6))):
            kind = "started" if i == 0 else draw(st.sampled_from(["progress", "heartbeat", "finished"]))
            when = base + timedelta(seconds=draw(st.integers(-3600, 3600)))
            extra: dict[str, Any] = {"site_id": site, "app": app}
            if kind == "progress":
                extra["metrics"] = {"cpu_user_s": draw(st.floats(0, 1e4)), "mem_max_mb": draw(st.floats(0, 1e5))}
            if kind == "finished":
                extra["status"] = draw(st.sampled_from(["succeeded", "failed", "cancelled"]))
                extra["metrics"] = {"duration_s": draw(st.floats(0, 1e6)), "cpu_sys_s": draw(st.floats(0, 10))}
            ev = event(kind, jid, draw(st.integers(0, 8)), when, **extra)
            if kind == "finished" and extra["status"] == "failed":
                ev["error"] = {"type": draw(st.sampled_from(["IOError", "Timeout"])), "message": "boom"}
            events.append(ev)
    replays = draw(st.lists(st.sampled_from(events), max_size=len(events)))
    return draw(st.permutations(events + replays))


def _async_run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _with_store(backend: str, dsn: str, body: Any) -> None:
    name = "h_" + uuid.uuid4().hex[:12]
    with tempfile.TemporaryDirectory() as tmp:
        admin = await asyncpg.connect(dsn) if dsn else None
        if admin is not None:
            await admin.execute(f"CREATE DATABASE {name}")
        s = Settings(sqlite_path=Path(tmp) / "g.db", database_url=dsn.rsplit("/", 1)[0] + "/" + name if dsn else "",
                     pool_min_size=1, heartbeat_s=600)  # fmt: skip
        store = make_store(s)
        await store.open()
        try:
            await body(store)
        finally:
            await store.close()
            if admin is not None:
                await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
                await admin.close()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=workload(), chunks=st.integers(1, 4), seed=st.integers(0, 1000))
def test_property_aggregate_equals_aggregation_from_scratch(
    backend: str, request: pytest.FixtureRequest, events: list[dict[str, Any]], chunks: int, seed: int
) -> None:
    dsn = request.getfixturevalue("pg_server") if backend == "postgres" else ""

    async def body(store: Store) -> None:
        size = max(1, len(events) // chunks)
        rng = random.Random(seed)
        for i in range(0, len(events), size):
            moment = NOW + timedelta(minutes=rng.randint(0, 20))
            await ingest(store, events[i : i + size], moment)
            assert await stored_aggregate(store) == await expected_aggregate(store)
        await store.sweep(NOW + timedelta(hours=2))  # every running job turns lost
        assert await stored_aggregate(store) == await expected_aggregate(store)
        await ingest(store, events, NOW + timedelta(hours=2))  # all replayed: nothing moves
        assert await stored_aggregate(store) == await expected_aggregate(store)

    _async_run(_with_store(backend, dsn, body))


async def test_running_then_failed_moves_the_count(store: Store) -> None:
    jid = new_id()
    start = NOW - timedelta(seconds=10)
    await ingest(store, [event("started", jid, 0, start, app="etch")], NOW)
    counts, _, _ = await stored_aggregate(store)
    assert {(c[3], c[4]) for c in counts} == {("running", 1)}
    finished = event("finished", jid, 1, start + timedelta(seconds=5), status="failed", app="etch")
    finished["error"] = {"type": "IOError", "message": "disk"}
    await ingest(store, [finished], NOW)
    await ingest(store, [finished], NOW)  # a replay adds nothing
    counts, hist, errors = await stored_aggregate(store)
    assert {(c[3], c[4], c[5], c[6], c[7]) for c in counts} == {("failed", 1, 12_500_000, 1, 12.5)}
    assert {(e[3], e[4]) for e in errors} == {("IOError", 1)}
    assert {h[3] for h in hist} == {"duration", "cpu", "mem"}
    assert (counts, hist, errors) == await expected_aggregate(store)


async def test_migration_backfills_from_stored_jobs(open_store: Any, backend: str) -> None:
    store = await open_store()
    for n in range(6):
        jid = new_id()
        start = NOW - timedelta(hours=n, minutes=5)
        finished = event("finished", jid, 1, start + timedelta(seconds=n), status=["succeeded", "failed"][n % 2])
        await ingest(store, [event("started", jid, 0, start, site_id=f"fab{n % 3}"), finished], NOW)
    await ingest(store, [event("started", new_id(), 0, NOW - timedelta(minutes=1))], NOW)
    before = await stored_aggregate(store)
    assert before == await expected_aggregate(store) and before[0]
    version = 6 if backend == "postgres" else 5
    drop = [f"DROP TABLE {t}" for t in TABLES] + [f"DELETE FROM schema_migrations WHERE version = {version}"]
    if isinstance(store, PostgresStore):
        drop.append("DROP INDEX jobs_bkey_trgm")  # also made by migration 6
        for sql in drop:
            await store.pool.execute(sql)
    else:
        await store._run(lambda: [store.conn.execute(sql) for sql in drop])  # type: ignore[attr-defined]
    await store.close()
    again = await open_store()
    assert await stored_aggregate(again) == before


def test_histogram_quantiles_are_within_the_bin_error() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(3, 1.5) for _ in range(2000)]
    d = from_scratch(
        [
            {
                "created_at": iso(NOW),
                "site_id": "s",
                "app_name": "a",
                "status": "succeeded",
                "duration_s": v,
                "metrics": "{}",
                "error": None,
            }
            for v in values
        ]
    )
    bins = {k[4]: n for k, n in d.hist.items()}
    ordered = sorted(values)
    for q in (0.5, 0.95):
        pos = q * (len(ordered) - 1)
        exact = ordered[int(pos)] + (ordered[int(pos) + 1] - ordered[int(pos)]) * (pos - int(pos))
        got = hist_quantile(bins, q)
        assert got is not None and got == pytest.approx(exact, rel=0.025)


async def test_overview_and_history_from_the_aggregate_equal_reading_jobs(store: Store) -> None:
    """Windows that start and end mid-hour: whole hours from the pre-aggregate plus the edges from
    jobs give what reading jobs alone gives (history percentiles within the histograms' error)."""
    rng = random.Random(11)
    events = []
    for n in range(60):
        jid, start = new_id(), NOW - timedelta(minutes=rng.randint(0, 600))
        status = rng.choice(["succeeded", "failed", "cancelled"])
        metrics = {
            "duration_s": rng.uniform(1, 500),
            "cpu_user_s": rng.uniform(0, 50),
            "mem_max_mb": rng.uniform(1, 900),
        }
        events += [
            event("started", jid, 0, start, site_id=f"fab{n % 2}", app="etch"),
            event(
                "finished",
                jid,
                1,
                start + timedelta(seconds=5),
                status=status,
                metrics=metrics,
                site_id=f"fab{n % 2}",
                app="etch",
            ),
        ]
    await ingest(store, events, NOW)
    for since_min, until_min in ((611, 7), (400, 0), (95, 33), (59, 2)):
        scope = Scope(NOW - timedelta(minutes=since_min), NOW - timedelta(minutes=until_min), 3600,
                      origin=floor_hour(NOW - timedelta(minutes=since_min)))  # fmt: skip
        got = fold_overview(await overview(store, scope), scope)
        want = fold_overview(await _overview_jobs(store, scope), scope)
        assert _rounded(got) == _rounded(want)
    scope = Scope(floor_hour(NOW - timedelta(hours=11)), NOW - timedelta(minutes=3), 86400, app="etch")
    hourly_rows = await history(store, scope)
    exact = await history(store, Scope(scope.since, scope.until, 86400, business_key="batch-1"))
    assert hourly_rows.errors == exact.errors and hourly_rows.buckets.keys() == exact.buckets.keys()
    for b, values in hourly_rows.buckets.items():
        for name, value in values.items():
            if name in ("jobs", "failed"):
                assert value == exact.buckets[b][name]
            elif name == "mem_max":
                assert exact.buckets[b][name] <= value <= exact.buckets[b][name] * 1.045  # type: ignore[operator]
            else:
                assert value == pytest.approx(exact.buckets[b][name], rel=0.022), name


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value
