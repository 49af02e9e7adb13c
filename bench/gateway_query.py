"""GET /v1/jobs latency on a store holding 10 million events.

    .venv/bin/python bench/gateway_query.py [--jobs 500000] [--events-per-job 20] [--requests 200]

Builds the data with SQL generate_series straight into the gateway's schema (jobs rows consistent
with their events: 500,000 jobs x 20 events = 10,000,000 raw events over the last 48 h by default),
starts a real `wafermon-gateway` on it and times sequential HTTP requests (keep-alive) for a mix of
list queries: default page, each filter, sort by updated_at, and cursor paging five pages deep.
Prints p50/p95/p99 per query and overall; the target is p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
from gateway_common import gateway_process, postgres_server
from gateway_ingest import fresh_schema

# Deterministic pseudo-random start time per job g, spread over 48 h, identical in both statements.
T = "(now() - ((g::bigint * 7919) % 172800) * interval '1 second')"
STATUS = (
    "(CASE WHEN g % 20 < 15 THEN 'succeeded' WHEN g % 20 < 18 THEN 'failed' WHEN g % 20 = 18 THEN 'cancelled' "
    "ELSE 'lost' END)"
)

JOBS_SQL = f"""
INSERT INTO jobs SELECT
  md5('job' || g)::uuid, NULL, 'fab' || (g % 4 + 1), 'app-' || (g % 20), '1.0.0', NULL, 'lot-' || g, NULL,
  'node-' || (g % 50), g % 60000, '{{"recipe": "R-17"}}'::jsonb, NULL,
  {T}, {T} + (($3 - 1) * interval '3 second'), {T},
  CASE WHEN {STATUS} <> 'lost' THEN {T} + (($3 - 1) * interval '3 second') END, $3 - 1,
  CASE WHEN {STATUS} = 'lost' THEN 'running' ELSE {STATUS} END, {STATUS},
  CASE WHEN {STATUS} = 'failed' THEN '{{"type": "E", "message": "boom"}}'::jsonb END,
  '{{"duration_s": 57.0, "cpu_user_s": 40.5, "cpu_sys_s": 1.5, "mem_max_mb": 512.0}}'::jsonb, 57.0, 1.0,
  {T} + interval '240 second',
  '{{"ident": [19, ""], "finish": null, "metrics": [1, 19, ""], "progress": [19, ""]}}'::jsonb,
  g, now()
FROM generate_series($1::int, $2::int) g
"""

EVENTS_SQL = f"""
INSERT INTO events SELECT
  md5('ev' || g || ':' || s)::uuid, {T} + s * interval '3 second', now(), md5('job' || g)::uuid, 'job',
  md5('job' || g)::uuid, s,
  CASE WHEN s = 0 THEN 'started' WHEN s = $3 - 1 THEN 'finished' ELSE 'progress' END,
  CASE WHEN s = $3 - 1 THEN 'succeeded' ELSE 'running' END, 'fab' || (g % 4 + 1),
  jsonb_build_object('schema', 'wafermon.event/1', 'seq', s, 'site_id', 'fab' || (g % 4 + 1),
                     'app', jsonb_build_object('name', 'app-' || (g % 20), 'version', '1.0.0'),
                     'business_key', 'lot-' || g, 'metadata', jsonb_build_object('recipe', 'R-17'))
FROM generate_series($1::int, $2::int) g CROSS JOIN generate_series(0, $3 - 1) s
"""


async def load(dsn: str, jobs: int, per_job: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        chunk = 50_000
        started = time.perf_counter()
        for first in range(1, jobs + 1, chunk):
            last = min(jobs, first + chunk - 1)
            await conn.execute(JOBS_SQL, first, last, per_job)
            await conn.execute(EVENTS_SQL, first, last, per_job)
            print(f"  loaded jobs {last:,} / {jobs:,}, events {last * per_job:,} "
                  f"({time.perf_counter() - started:.0f} s)", flush=True)  # fmt: skip
        await conn.execute(f"SELECT setval('change_seq', {jobs})")
        await conn.execute("VACUUM ANALYZE")
        count = await conn.fetchval("SELECT count(*) FROM events")
        print(f"  events table: {count:,} rows, jobs: {await conn.fetchval('SELECT count(*) FROM jobs'):,}")
    finally:
        await conn.close()


async def timed_get(client: httpx.AsyncClient, path: str) -> float:
    """Seconds one GET of path takes; asserts a 200."""
    t = time.perf_counter()
    r = await client.get(path)
    elapsed = time.perf_counter() - t
    assert r.status_code == 200, (path, r.text)
    return elapsed


async def measure_on_loaded_store(
    prefix: str,
    jobs: int,
    per_job: int,
    measure: Callable[[str], Awaitable[dict[str, list[float]]]],
    after_load: Callable[[str], Awaitable[None]] | None = None,
) -> dict[str, list[float]]:
    """Loads jobs x per_job events into a fresh database on a private server, runs after_load(dsn)
    when given, starts the gateway on it and returns measure(gateway URL)."""
    with postgres_server() as admin:
        dsn = await fresh_schema(admin, prefix)
        print(f"loading {jobs * per_job:,} events ...", flush=True)
        await load(dsn, jobs, per_job)
        if after_load is not None:
            await after_load(dsn)
        with gateway_process(dsn) as url:
            return await measure(url)


def store_arguments(doc: str, requests: int, rounds_over: str) -> argparse.Namespace:
    """--jobs, --events-per-job (the store's size) and --requests (rounds over `rounds_over`)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500_000)
    parser.add_argument("--events-per-job", type=int, default=20)
    parser.add_argument("--requests", type=int, default=requests, help=f"rounds over {rounds_over}")
    return parser.parse_args()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def measure(url: str, requests: int) -> dict[str, list[float]]:
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    queries = {
        "default (50 newest)": "/v1/jobs",
        "site_id": "/v1/jobs?site_id=fab2",
        "status=failed": "/v1/jobs?status=failed",
        "app+status": "/v1/jobs?app=app-7&status=succeeded",
        "since 1h": f"/v1/jobs?since={hour_ago}",
        "business_key": "/v1/jobs?business_key=lot-123457",
        "sort -updated_at, limit 100": "/v1/jobs?sort=-updated_at&limit=100",
        "status=lost,cancelled sort created_at": "/v1/jobs?status=lost,cancelled&sort=created_at",
    }
    timings: dict[str, list[float]] = {name: [] for name in [*queries, "cursor paging (pages 2-5)"]}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for path in queries.values():  # warm-up: caches and prepared statements
            await client.get(path)
        for _ in range(requests):
            for name, path in queries.items():
                timings[name].append(await timed_get(client, path))
            cursor = (await client.get("/v1/jobs?site_id=fab1&limit=50")).json()["next_cursor"]
            for _page in range(4):
                t = time.perf_counter()
                r = await client.get(f"/v1/jobs?site_id=fab1&limit=50&cursor={cursor}")
                timings["cursor paging (pages 2-5)"].append(time.perf_counter() - t)
                cursor = r.json()["next_cursor"]
    return timings


async def main() -> None:
    args = store_arguments(__doc__, 100, "the query mix")
    timings = await measure_on_loaded_store(
        "bench_query", args.jobs, args.events_per_job, lambda url: measure(url, args.requests)
    )
    everything = [t for values in timings.values() for t in values]
    print(f"GET /v1/jobs over HTTP, {args.jobs * args.events_per_job:,} events / {args.jobs:,} jobs in store:")
    for name, values in timings.items():
        print(f"  {name:40s} n={len(values):4d}  p50 {pct(values, 50) * 1000:6.1f} ms  "
              f"p95 {pct(values, 95) * 1000:6.1f} ms  p99 {pct(values, 99) * 1000:6.1f} ms")  # fmt: skip
    print(f"overall p95 latency: {pct(everything, 95) * 1000:.1f} ms (n={len(everything)}, "
          f"mean {statistics.mean(everything) * 1000:.1f} ms; target <= 50 ms)")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
