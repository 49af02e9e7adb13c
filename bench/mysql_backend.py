#!/usr/bin/env python3
"""mysql backend benchmark: events/s into a real MariaDB through the sidecar's backend (`send_batch`,
batches of --batch, one transaction each) next to asyncmy itself writing the same rows (the same
multi-row INSERT ... ON DUPLICATE KEY UPDATE, one transaction per batch) in the same run; prints
both and the ratio (backend / asyncmy; above 1 is faster).

    .venv/bin/python bench/mysql_backend.py [--events 20000] [--batch 500] [--jobs]

Starts its own server (sidecar/tests_mariadb/mariadb_peer.py: Debian's mariadbd, 64 MiB buffer pool)
in a temp dir. Each side writes to its own table, so neither meets the other's rows. --jobs also
writes the jobs table on the backend's side (the asyncmy side writes only the events rows).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "sidecar" / "tests_mariadb"))

import asyncmy  # noqa: E402
from backend_timing import finished_events, send_batch_rate  # noqa: E402
from mariadb_peer import MariaDbServer, peer_version  # noqa: E402

from wafermon_sidecar.backends.mysql import MysqlBackend  # noqa: E402
from wafermon_sidecar.backends.mysql_rows import event_row, events_ddl, insert_events  # noqa: E402


async def through_backend(server: MariaDbServer, raw: list[bytes], batch: int, jobs: bool) -> float:
    extra = {"jobs_table": "bench_backend_jobs"} if jobs else {}
    backend = MysqlBackend("bench", server.backend_config(table="bench_backend", **extra))
    # connecting and creating the tables (the first event, sent before the clock starts)
    return await send_batch_rate(backend, raw, batch)


async def through_asyncmy(server: MariaDbServer, raw: list[bytes], batch: int) -> float:
    config = server.backend_config()
    conn = await asyncmy.connect(
        host=config["host"], port=config["port"], user=config["user"], password=config["password"],
        database=config["database"], charset="utf8mb4", autocommit=False,
    )  # fmt: skip
    async with conn.cursor() as cur:
        await cur.execute(events_ddl("bench_client"))
    rows = [event_row(json.loads(r), r.decode()) for r in raw[1:]]  # shaped outside the clock: the bare client
    started = time.perf_counter()
    for i in range(0, len(rows), batch):
        chunk = rows[i : i + batch]
        async with conn.cursor() as cur:
            await cur.execute(insert_events("bench_client", len(chunk)), [v for row in chunk for v in row])
        await conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    return len(rows) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--jobs", action="store_true", help="the backend also upserts the jobs table")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wafermon-bench-mysql-") as tmp:
        server = MariaDbServer(Path(tmp))
        server.start()
        try:
            asyncio.run(through_asyncmy(server, finished_events(args.events // 4 + 1), args.batch))  # warm-up
            server.query("DROP TABLE bench_client")
            backend_rate = asyncio.run(through_backend(server, finished_events(args.events + 1), args.batch, args.jobs))
            client_rate = asyncio.run(through_asyncmy(server, finished_events(args.events + 1), args.batch))
            counted = server.count("bench_backend"), server.count("bench_client")
        finally:
            server.stop()
    assert counted == (args.events + 1, args.events), counted
    print(f"MariaDB {peer_version()}, {args.events} events in batches of {args.batch}")
    label = "mysql backend (+ jobs)" if args.jobs else "mysql backend"
    print(f"  {label:<24} : {backend_rate:10.0f} events/s")
    print(f"  {'asyncmy multi-row insert':<24} : {client_rate:10.0f} events/s")
    print(f"  {'ratio backend/asyncmy':<24} : {backend_rate / client_rate:10.2f}")


if __name__ == "__main__":
    main()
