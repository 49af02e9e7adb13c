"""The dashboard's API calls, timed on the PostgreSQL store of bench/gateway_query.py.

    .venv/bin/python bench/dashboard_query.py [--jobs 500000] [--events-per-job 20] [--requests 30]

Builds the same store (500,000 jobs x 20 events = 10,000,000 raw events over 48 h by default, with
bench/gateway_query.py's SQL), starts a real `wafermon-gateway` on it and times sequential HTTP
requests (keep-alive) for what each view loads: overview windows, the live board's running jobs,
filtered job lists, one job's detail, history by app and by business key. Prints p50/p95 per call;
the target is p95 <= 200 ms for every one.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid

import asyncpg
import httpx
from gateway_query import measure_on_loaded_store, pct, store_arguments, timed_get

from wafermon_gateway.store import hourly

TARGET_MS = 200.0


def job_id(g: int) -> str:
    """The id bench/gateway_query.py gives job g: md5('job' || g)::uuid."""
    return str(uuid.UUID(hashlib.md5(f"job{g}".encode()).hexdigest()))


async def measure(url: str, requests: int, jobs: int) -> dict[str, list[float]]:
    calls = {
        "overview 24h": "/v1/stats/overview?window=24h",
        "overview 1h, one site": "/v1/stats/overview?window=1h&site_id=fab2",
        "overview 7d": "/v1/stats/overview?window=7d",
        "live board (running jobs)": "/v1/jobs?status=running&limit=500",
        "jobs: status+site filter": "/v1/jobs?status=failed&site_id=fab2",
        "jobs: business key": f"/v1/jobs?business_key=lot-{jobs // 2}",
        "jobs: business key contains": f"/v1/jobs?business_key_contains=t-{jobs // 2 // 10}",
        "job detail": f"/v1/jobs/{job_id(jobs // 3)}",
        "history: app, 30d by day": "/v1/stats/history?app=app-7&window=30d",
        "history: app, 12w by week": "/v1/stats/history?app=app-7&window=12w&bucket=week",
        "history: business key": f"/v1/stats/history?business_key=lot-{jobs // 2}&window=30d",
    }
    timings: dict[str, list[float]] = {name: [] for name in calls}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        for path in calls.values():  # warm-up
            await timed_get(client, path)
        for _ in range(requests):
            for name, path in calls.items():
                timings[name].append(await timed_get(client, path))
    return timings


async def backfill(dsn: str) -> None:
    """The loader writes jobs rows with SQL, not through ingest: fill the hourly pre-aggregate the
    way migration 6 does for a store that already holds jobs."""
    started = time.perf_counter()
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            for table in hourly.TABLES:
                await conn.execute(f"TRUNCATE {table}")
            for statement in hourly.backfill(postgres=True):
                await conn.execute(statement)
        await conn.execute("ANALYZE job_hourly, job_hourly_hist, job_hourly_errors")
        rows = await conn.fetchval("SELECT count(*) FROM job_hourly")
    finally:
        await conn.close()
    print(f"  hourly pre-aggregate back-filled: {rows:,} cells ({time.perf_counter() - started:.0f} s)", flush=True)


async def main() -> None:
    args = store_arguments(__doc__, 30, "the calls")
    timings = await measure_on_loaded_store(
        "bench_dashboard",
        args.jobs,
        args.events_per_job,
        lambda url: measure(url, args.requests, args.jobs),
        after_load=backfill,
    )
    print(f"dashboard API over HTTP, {args.jobs * args.events_per_job:,} events / {args.jobs:,} jobs in store:")
    worst = 0.0
    for name, values in timings.items():
        p95 = pct(values, 95) * 1000
        worst = max(worst, p95)
        print(f"  {name:30s} n={len(values):3d}  p50 {pct(values, 50) * 1000:7.1f} ms  p95 {p95:7.1f} ms")
    print(f"worst p95: {worst:.1f} ms (target <= {TARGET_MS:.0f} ms): {'OK' if worst <= TARGET_MS else 'OVER'}")


if __name__ == "__main__":
    asyncio.run(main())
