"""Store behaviour, the same cases on SQLite and on a real PostgreSQL (the `backend` parameter)."""

from __future__ import annotations

import asyncio
import random
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_reducer import shuffled_with_duplicates

from wafermon_gateway.batch import Prepared, parse_batch
from wafermon_gateway.query import Filters, ListQuery
from wafermon_gateway.reducer import fold
from wafermon_gateway.settings import Settings
from wafermon_gateway.store import Store, make_store
from wafermon_gateway.store.base import entity_view, state_record
from wafermon_gateway.store.migrations import POSTGRES, SQLITE
from wafermon_gateway.store.postgres import PostgresStore
from wafermon_testkit.events import event, job_story, new_id

StoreFactory = Callable[..., Awaitable[Store]]


def prepare(events: list[dict[str, Any]], now: datetime | None = None) -> list[Prepared]:
    good, problems = parse_batch(orjson.dumps(events), None, Settings(), now or datetime.now(UTC))
    assert not problems, problems
    return good


async def ingest(store: Store, events: list[dict[str, Any]], now: datetime | None = None) -> Any:
    moment = now or datetime.now(UTC)
    return await store.ingest(prepare(events, moment), moment)


async def job(store: Store, job_id: str) -> dict[str, Any]:
    row = await store.get_entity("job", job_id)
    assert row is not None
    return entity_view(row, "job")


async def test_ingest_builds_job_and_subjob_state(store: Store) -> None:
    events = job_story(subjobs=3, progress_steps=2)
    jid = events[0]["entity_id"]
    result = await ingest(store, events)
    assert (result.accepted, result.duplicates) == (len(events), 0)
    view = await job(store, jid)
    assert view["status"] == "succeeded"
    assert view["metrics"] == {"duration_s": 12.5, "cpu_user_s": 10.1, "cpu_sys_s": 0.4, "mem_max_mb": 512.0}
    assert view["duration_s"] == 12.5 and view["progress"] == pytest.approx(2 / 3)
    assert view["started_at"] == events[0]["at"] and view["finished_at"] == events[-1]["at"]
    assert view["app"] == {"name": "etch-line", "version": "2.1.0", "id": None}
    subs = await store.list_entities(ListQuery(Filters("subjob", parent_id=jid), limit=10))
    assert len(subs) == 3 and {r["status"] for r in subs} == {"succeeded"}
    assert {r["sub_key"] for r in subs} == {"wafer-0", "wafer-1", "wafer-2"}
    timeline = await store.timeline(jid, 100)
    assert len(timeline) == len(events)
    assert [t["event"]["at"] for t in timeline] == sorted(t["event"]["at"] for t in timeline)


async def test_replaying_batches_changes_no_row(store: Store) -> None:
    batches = [job_story(subjobs=2) for _ in range(5)]
    batches.append(job_story(outcome=None))  # one still running
    for batch in batches:
        await ingest(store, batch)
    before = await store.dump()
    everything = [e for b in batches for e in b]
    for _round in range(2):
        for batch in batches:
            result = await ingest(store, batch)
            assert (result.accepted, result.duplicates) == (0, len(batch))
        random.Random(7).shuffle(everything)  # also re-chunked and reordered
        for i in range(0, len(everything), 7):
            assert (await ingest(store, everything[i : i + 7])).accepted == 0
    assert await store.dump() == before


async def test_duplicates_inside_one_batch(store: Store) -> None:
    events = job_story()
    result = await ingest(store, events + events[:2])
    assert (result.accepted, result.duplicates) == (len(events), 2)


async def test_out_of_order_across_batches(store: Store) -> None:
    events = job_story(subjobs=2, progress_steps=4)
    jid = events[0]["entity_id"]
    await ingest(store, [])  # an empty batch is fine
    shuffled = list(reversed(events))
    for e in shuffled:
        await ingest(store, [e, e])
    view = await job(store, jid)
    assert view["status"] == "succeeded" and view["last_seq"] == 5 and view["progress"] == pytest.approx(4 / 5)


def _async_run(coro: Any) -> Any:
    return asyncio.run(coro)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=shuffled_with_duplicates(), chunks=st.integers(min_value=1, max_value=4))
def test_property_store_state_independent_of_order(
    backend: str, request: pytest.FixtureRequest, case: tuple[list[Any], list[Any]], chunks: int
) -> None:
    """Any permutation with duplicates of a job's events, delivered in any batching, leaves the same
    row in the real store as the reducer computes from the events in order."""
    canonical, mixed = case
    # Recent times so liveness does not turn the job lost while we compare.
    now = datetime.now(UTC)
    shift = now - datetime.fromisoformat(min(e["at"] for e in canonical)) - timedelta(seconds=20)
    canonical = [dict(e, at=(datetime.fromisoformat(e["at"]) + shift).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
                 for e in canonical]  # fmt: skip
    by_id = {e["event_id"]: e for e in canonical}
    mixed = [by_id[e["event_id"]] for e in mixed]
    dsn = request.getfixturevalue("pg_server") if backend == "postgres" else ""

    async def run() -> tuple[dict[str, Any], dict[str, Any]]:
        name = "p_" + uuid.uuid4().hex[:12]
        with tempfile.TemporaryDirectory() as tmp:
            if dsn:
                admin = await asyncpg.connect(dsn)
                await admin.execute(f"CREATE DATABASE {name}")
            s = Settings(sqlite_path=Path(tmp) / "g.db", database_url=dsn.rsplit("/", 1)[0] + "/" + name if dsn else "",
                         pool_min_size=1, heartbeat_s=3600)  # fmt: skip
            store = make_store(s)
            await store.open()
            try:
                size = max(1, len(mixed) // chunks)
                for i in range(0, len(mixed), size):
                    await ingest(store, mixed[i : i + size], now)
                row = await store.get_entity("job", canonical[0]["entity_id"])
                assert row is not None
                state = fold(None, [p.facts for p in prepare(canonical, now)])
                assert state is not None
                expected = state_record(state, None, s, row["received_at"])
            finally:
                await store.close()
                if dsn:
                    await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
                    await admin.close()
        drop = {"change_id", "received_at"}
        got = {k: v for k, v in entity_view(row, "job").items() if k not in drop}
        want = {k: v for k, v in entity_view(expected, "job").items() if k not in drop}
        return got, want

    got, want = _async_run(run())
    assert got == want


async def test_lost_then_late_finished_wins(open_store: StoreFactory) -> None:
    store = await open_store(heartbeat_s=10, lost_after_missed=3)
    now = datetime.now(UTC)
    jid = new_id()
    await ingest(store, [event("started", jid, 0, now - timedelta(seconds=5))], now)
    assert (await job(store, jid))["status"] == "running"
    assert await store.sweep(now + timedelta(seconds=10)) == 0
    assert await store.sweep(now + timedelta(seconds=26)) == 1
    view = await job(store, jid)
    assert view["status"] == "lost" and view["reported_status"] == "running"
    # a heartbeat revives it, then silence again, then a late finished wins for good
    await ingest(store, [event("heartbeat", jid, 1, now + timedelta(seconds=27))], now + timedelta(seconds=28))
    assert (await job(store, jid))["status"] == "running"
    await store.sweep(now + timedelta(seconds=100))
    assert (await job(store, jid))["status"] == "lost"
    fin = event("finished", jid, 2, now + timedelta(seconds=29), status="failed")
    await ingest(store, [fin], now + timedelta(seconds=101))
    view = await job(store, jid)
    assert view["status"] == "failed" and view["error"] == {"type": "RuntimeError", "message": "boom"}
    await store.sweep(now + timedelta(days=1))
    assert (await job(store, jid))["status"] == "failed"


async def test_heartbeat_allowance_from_metadata(open_store: StoreFactory) -> None:
    store = await open_store(heartbeat_s=3600)
    now = datetime.now(UTC)
    quick, slow = new_id(), new_id()
    await ingest(store, [event("started", quick, 0, now, metadata={"wafermon.heartbeat_s": 1}),
                         event("started", slow, 0, now)], now)  # fmt: skip
    await store.sweep(now + timedelta(seconds=5))
    assert (await job(store, quick))["status"] == "lost"
    assert (await job(store, slow))["status"] == "running"


async def test_old_silent_job_is_lost_on_arrival(store: Store) -> None:
    jid = new_id()
    await ingest(store, [event("started", jid, 0, datetime.now(UTC) - timedelta(hours=2))])
    assert (await job(store, jid))["status"] == "lost"


async def test_subjob_orphaned_when_parent_finishes(store: Store) -> None:
    now = datetime.now(UTC)
    jid, sid, sid2 = new_id(), new_id(), new_id()
    sub = {"entity_type": "subjob", "parent_id": jid}
    await ingest(store, [event("started", jid, 0, now), event("started", sid, 0, now, **sub)], now)
    await ingest(store, [event("finished", jid, 1, now)], now)  # parent done, sub-job still running
    row = await store.get_entity("subjob", sid)
    assert row is not None and row["status"] == "orphaned"
    # a sub-job that starts after its parent finished is orphaned at once; a sweep agrees
    await ingest(store, [event("started", sid2, 0, now, **sub)], now)
    row = await store.get_entity("subjob", sid2)
    assert row is not None and row["status"] == "orphaned"
    assert await store.sweep(now) == 0
    # heartbeats keep it orphaned; its own late finished wins
    await ingest(store, [event("heartbeat", sid, 1, now, **sub)], now)
    assert (await store.get_entity("subjob", sid) or {})["status"] == "orphaned"
    await ingest(store, [event("finished", sid, 2, now, **sub)], now)
    assert (await store.get_entity("subjob", sid) or {})["status"] == "succeeded"
    orphans = await store.list_entities(ListQuery(Filters("subjob", statuses=("orphaned",)), limit=10))
    assert [r["entity_id"] for r in orphans] == [sid2]


async def test_changes_in_commit_order_with_filters(store: Store) -> None:
    start = await store.latest_change()
    a = job_story(site_id="fab1")
    b = job_story(site_id="fab2")
    await ingest(store, a)
    await ingest(store, b)
    rows = await store.changes(Filters("job"), start, 100)
    assert [r["entity_id"] for r in rows] == [a[0]["entity_id"], b[0]["entity_id"]]
    assert rows[0]["change_id"] < rows[1]["change_id"] == await store.latest_change()
    fab2 = await store.changes(Filters("job", site_id="fab2"), start, 100)
    assert [r["entity_id"] for r in fab2] == [b[0]["entity_id"]]
    assert await store.changes(Filters("job"), rows[1]["change_id"], 100) == []


async def test_retention(open_store: StoreFactory) -> None:
    store = await open_store(retention_hours=72, state_retention_hours=100)
    now = datetime.now(UTC)
    recent = job_story(start=now - timedelta(hours=1))
    ancient = job_story(start=now - timedelta(hours=80))  # older than raw retention already
    result = await ingest(store, recent + ancient, now)
    assert result.accepted == len(recent) + len(ancient)
    dump = await store.dump()
    assert len(dump["events"]) == len(recent)  # the ancient events update state but are not kept raw
    assert (await job(store, ancient[0]["entity_id"]))["status"] == "succeeded"
    assert (await ingest(store, ancient, now)).accepted == len(ancient)  # no raw row to dedupe on...
    assert await store.dump() == dump  # ...but folding them again changes nothing
    # Partitions go whole, so raw events live between retention_hours and retention + partition_hours.
    report = await store.maintain(now + timedelta(hours=72 + 24 + 1))
    assert len((await store.dump())["events"]) == 0
    assert report
    await store.maintain(now + timedelta(hours=103))
    assert await store.list_entities(ListQuery(Filters("job"), limit=10)) == []


async def test_reopen_applies_no_migration_twice(open_store: StoreFactory) -> None:
    first = await open_store()
    await ingest(first, job_story())
    before = await first.dump()
    await first.close()
    second = await open_store()
    assert await second.dump() == before
    expected = [v for v, _n, _s in SQLITE] if second.name == "sqlite" else [m.version for m in POSTGRES]
    assert [int(row[0]) for row in before["schema_migrations"]] == expected


async def test_postgres_partitions_created_and_dropped(open_store: StoreFactory, backend: str) -> None:
    if backend != "postgres":
        pytest.skip("range partitions exist only on PostgreSQL")
    store = await open_store(retention_hours=48, partition_hours=24, partitions_ahead=2)
    assert isinstance(store, PostgresStore) and store.mode == "partitioned"
    now = datetime.now(UTC)
    names = await _partition_names(store)
    today = f"events_p{now:%Y%m%d}00"
    assert today in names and f"events_p{now + timedelta(days=2):%Y%m%d}00" in names
    await ingest(store, job_story(start=now - timedelta(hours=30)), now)
    report = await store.maintain(now + timedelta(days=3))
    assert f"events_p{now - timedelta(days=2):%Y%m%d}00" in report["partitions_dropped"]
    assert f"events_p{now + timedelta(days=5):%Y%m%d}00" in await _partition_names(store)
    async with store.pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM events WHERE at < $1", now - timedelta(hours=24)) == 0


async def _partition_names(store: PostgresStore) -> set[str]:
    rows = await store.pool.fetch("SELECT relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid")
    return {r[0] for r in rows}


async def test_postgres_staged_ingest_path(open_store: StoreFactory, backend: str) -> None:
    """The fallback path (COPY to a staging table, INSERT ... ON CONFLICT DO NOTHING) dedupes too."""
    if backend != "postgres":
        pytest.skip("PostgreSQL ingest paths")
    store = await open_store()
    assert isinstance(store, PostgresStore)
    direct = store._write

    async def staged(conn: Any, raw: Any, old: Any, now: datetime, staged: bool) -> Any:
        return await direct(conn, raw, old, now, staged=True)

    store._write = staged  # type: ignore[method-assign]
    events = job_story(subjobs=2)
    first = await ingest(store, events[:4])
    dump = None
    for _ in range(2):
        result = await ingest(store, events)
        dump = dump or await store.dump()
    assert (first.accepted, result.accepted, result.duplicates) == (4, 0, len(events))
    assert await store.dump() == dump
    assert (await job(store, events[0]["entity_id"]))["status"] == "succeeded"


async def test_postgres_notify_reaches_other_gateways(open_store: StoreFactory, backend: str) -> None:
    """A change committed through one gateway wakes stream subscribers of another (LISTEN/NOTIFY)."""
    if backend != "postgres":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite uses an in-process bus")
    writer = await open_store()
    reader = await open_store()
    assert isinstance(writer, PostgresStore)
    # each store: its pool (min_size 1, used one at a time here) plus exactly one LISTEN connection
    sessions = await writer.pool.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")
    assert sessions == 4
    position = reader.bus.latest
    waiter = asyncio.create_task(reader.bus.wait_beyond(position, timeout=10))
    await asyncio.sleep(0.1)
    result = await ingest(writer, job_story())
    assert await waiter is True
    assert reader.bus.latest == result.last_change
    rows = await reader.changes(Filters("job"), position, 10)
    assert len(rows) == 1


async def test_liveness_changes_reach_the_stream(open_store: StoreFactory) -> None:
    store = await open_store(heartbeat_s=1, lost_after_missed=1)
    now = datetime.now(UTC)
    jid, sid = new_id(), new_id()
    sub = {"entity_type": "subjob", "parent_id": jid}
    await ingest(store, [event("started", jid, 0, now), event("started", sid, 0, now, **sub)], now)
    position = store.bus.latest
    assert await store.sweep(now + timedelta(seconds=5)) == 2  # both silent for too long
    assert store.bus.latest > position  # subscribers are woken
    lost = await store.changes(Filters("job", statuses=("lost",)), position, 10)
    assert [r["entity_id"] for r in lost] == [jid]
    position = store.bus.latest
    await ingest(store, [event("finished", jid, 1, now + timedelta(seconds=6))], now + timedelta(seconds=6))
    orphaned = await store.changes(Filters("subjob"), position, 10)
    assert [(r["entity_id"], r["status"]) for r in orphaned] == [(sid, "orphaned")]
