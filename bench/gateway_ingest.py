"""Gateway ingest throughput into PostgreSQL next to raw asyncpg COPY of the same rows.

    .venv/bin/python bench/gateway_ingest.py [--events 100000] [--batch 500] [--concurrency 4]

1. Generates realistic job stories (started, progress..., finished; with sub-jobs) as event v1 JSON.
2. Gateway: a real `wafermon-gateway` process on a fresh database; batches of --batch events are
   POSTed over HTTP (--concurrency in flight), bodies encoded before the clock starts.
3. Raw: the same events as the rows the gateway writes to `events`, COPYed with asyncpg
   copy_records_to_table into a fresh database with the same schema, in the same batch size, and
   once more as a single COPY. Raw COPY does no validation, de-duplication or job-state upkeep.
Prints events/s for each and the ratio gateway / raw.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
from gateway_common import create_database, gateway_process, postgres_server

from wafermon_gateway.settings import Settings
from wafermon_gateway.store.base import EVENT_COLUMNS
from wafermon_gateway.store.postgres import PostgresStore


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def make_events(total: int, seed: int = 1) -> list[dict[str, Any]]:
    rnd = random.Random(seed)
    now = datetime.now(UTC) - timedelta(minutes=30)
    events: list[dict[str, Any]] = []
    while len(events) < total:
        jid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        t0 = now + timedelta(seconds=rnd.uniform(0, 1500))
        site, app = f"fab{rnd.randint(1, 4)}", f"app-{rnd.randint(1, 12)}"
        common = {"schema": "wafermon.event/1", "site_id": site, "app": {"name": app, "version": "1.4.2"},
                  "business_key": f"lot-{rnd.randint(1, 10**6)}", "host": f"node-{rnd.randint(1, 40)}",
                  "pid": rnd.randint(100, 60000), "sdk": {"lang": "python", "version": "0.1.0"},
                  "metadata": {"recipe": f"R-{rnd.randint(1, 50)}", "operator": "bench"}}  # fmt: skip

        def ev(kind: str, eid: str, seq: int, at: datetime, common: dict[str, Any] = common, **extra: Any) -> Any:
            status = extra.pop("status", "running")
            return {**common, "event_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)), "event_kind": kind,
                    "entity_type": extra.pop("entity_type", "job"), "entity_id": eid,
                    "parent_id": extra.pop("parent_id", None), "seq": seq, "at": stamp(at), "status": status,
                    "sub_key": extra.pop("sub_key", None), **extra}  # fmt: skip

        events.append(ev("started", jid, 0, t0))
        for i in range(1, 5):
            events.append(ev("progress", jid, i, t0 + timedelta(seconds=i), progress=i / 6,
                             metrics={"cpu_user_s": i * 1.5, "mem_max_mb": 100.0 + i}))  # fmt: skip
        for w in range(2):
            sid = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
            sub = {"entity_type": "subjob", "parent_id": jid, "sub_key": f"wafer-{w}"}
            events.append(ev("started", sid, 0, t0 + timedelta(seconds=1, milliseconds=w), **sub))
            events.append(ev("finished", sid, 1, t0 + timedelta(seconds=3, milliseconds=w), status="succeeded",
                             metrics={"duration_s": 2.0, "cpu_user_s": 1.0, "cpu_sys_s": 0.1, "mem_max_mb": 50.0},
                             **sub))  # fmt: skip
        final = {"duration_s": 6.0, "cpu_user_s": 5.2, "cpu_sys_s": 0.3, "mem_max_mb": 128.0}
        events.append(ev("finished", jid, 5, t0 + timedelta(seconds=6), status="succeeded", metrics=final))
    return events[:total]


async def run_gateway(urls: list[str], bodies: list[bytes], concurrency: int) -> float:
    """POST every body, `concurrency` requests in flight, spread round-robin over the gateways."""
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    clients = [httpx.AsyncClient(base_url=url, timeout=60) for url in urls]
    try:

        async def worker(client: httpx.AsyncClient) -> None:
            while not queue.empty():
                body = queue.get_nowait()
                r = await client.post("/v1/ingest/managed", content=body,
                                      headers={"Content-Type": "application/json"})  # fmt: skip
                if r.status_code != 200 or r.json()["rejected"]:
                    raise RuntimeError(f"ingest failed: {r.status_code} {r.text[:300]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker(clients[i % len(clients)]) for i in range(concurrency)))
        return time.perf_counter() - started
    finally:
        for client in clients:
            await client.aclose()


def raw_records(events: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    now = datetime.now(UTC)
    out = []
    for e in events:
        out.append((e["event_id"], datetime.fromisoformat(e["at"]), now, e["parent_id"] or e["entity_id"],
                    e["entity_type"], e["entity_id"], e["seq"], e["event_kind"], e["status"], e["site_id"],
                    orjson.dumps(e).decode()))  # fmt: skip
    return out


async def run_raw(dsn: str, records: list[tuple[Any, ...]], batch: int) -> float:
    conn = await asyncpg.connect(dsn)
    try:
        started = time.perf_counter()
        for i in range(0, len(records), batch):
            await conn.copy_records_to_table("events", records=records[i : i + batch], columns=EVENT_COLUMNS)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def fresh_schema(admin: str, prefix: str) -> str:
    dsn = await create_database(admin, prefix)
    store = PostgresStore(Settings(database_url=dsn, pool_min_size=1))
    await store.open()  # migrations and partitions, as the gateway makes them
    await store.close()
    return dsn


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--gateways", type=int, default=1, help="gateway processes sharing the database")
    args = parser.parse_args()
    events = make_events(args.events)
    bodies = [orjson.dumps({"events": events[i : i + args.batch], "source": "bench"})
              for i in range(0, len(events), args.batch)]  # fmt: skip
    records = raw_records(events)
    with postgres_server() as admin:
        gw_dsn = await fresh_schema(admin, "bench_gw")
        with contextlib.ExitStack() as stack:
            urls = [stack.enter_context(gateway_process(gw_dsn)) for _ in range(args.gateways)]
            gw_s = await run_gateway(urls, bodies, args.concurrency)
        raw_dsn = await fresh_schema(admin, "bench_raw")
        raw_s = await run_raw(raw_dsn, records, args.batch)
        one_dsn = await fresh_schema(admin, "bench_one")
        one_s = await run_raw(one_dsn, records, len(records))
        conn = await asyncpg.connect(gw_dsn)
        stored = await conn.fetchval("SELECT count(*) FROM events")
        jobs = await conn.fetchval("SELECT count(*) FROM jobs WHERE status = 'succeeded'")
        await conn.close()
    n = len(events)
    gw, raw, one = n / gw_s, n / raw_s, n / one_s
    print(f"events: {n} in batches of {args.batch}; gateway stored {stored} events, {jobs} succeeded jobs")
    who = f"{args.gateways} gateway processes" if args.gateways > 1 else "one gateway process"
    print(f"gateway HTTP ingest ({who}, concurrency {args.concurrency}): {gw:,.0f} events/s ({gw_s:.2f} s)")
    print(f"raw asyncpg COPY, batches of {args.batch}:        {raw:,.0f} events/s ({raw_s:.2f} s)")
    print(f"raw asyncpg COPY, one COPY of all rows:    {one:,.0f} events/s ({one_s:.2f} s)")
    print(f"ratio gateway / raw COPY (batches of {args.batch}): {gw / raw:.2f}x   (target >= 0.25x)")
    print(f"ratio gateway / raw COPY (one COPY):        {gw / one:.2f}x")


if __name__ == "__main__":
    asyncio.run(main())
