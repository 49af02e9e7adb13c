#!/usr/bin/env python3
"""mongodb backend benchmark: events/s into a real FerretDB 1.24 server (MongoDB wire protocol over
SQLite; not MongoDB itself) through the sidecar's backend (`send_batch`, batches of --batch), with and
without its jobs collection, next to pymongo's AsyncMongoClient writing the same documents directly
(`insert_many(ordered=False)`, --batch per call) in the same run; prints each and the ratios
(backend / driver; above 1 is faster).

    .venv/bin/python bench/mongodb_backend.py [--events 20000] [--batch 500]

Starts its own server (sidecar/tests_mongodb/ferretdb_peer.py) in a temp dir; each side writes
into its own database, so neither meets the other's documents.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "sidecar" / "tests_mongodb"))

from backend_timing import send_batch_rate  # noqa: E402
from ferretdb_peer import FerretDb  # noqa: E402
from pymongo import AsyncMongoClient  # noqa: E402

from wafermon_sidecar.backends.mongodb import MongoDbBackend, to_document  # noqa: E402
from wafermon_testkit.events import event  # noqa: E402


def make_events(n: int) -> list[bytes]:
    """n events of n/4 jobs, each job's four (started, progress, progress, finished) one after the other,
    as a sidecar receives them: about one job state per four events, a few updated in a later batch."""
    start = datetime.now(UTC) - timedelta(hours=1)
    kinds = ("started", "progress", "progress", "finished")
    job = ""
    out = []
    for i in range(n):
        if i % 4 == 0:
            job = str(uuid.uuid4())
        out.append(json.dumps(event(kinds[i % 4], job, i % 4, start + timedelta(milliseconds=i))).encode())
    return out


async def through_backend(uri: str, raw: list[bytes], batch: int, database: str, jobs: str) -> float:
    backend = MongoDbBackend("bench", {"uri": uri, "database": database, "jobs_collection": jobs})
    # connection and index (the first event, sent before the clock starts)
    return await send_batch_rate(backend, raw, batch)


async def through_driver(uri: str, raw: list[bytes], batch: int, database: str) -> float:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri, tz_aware=True)
    events = client[database].events
    await events.insert_one(to_document(json.loads(raw[0])))
    documents = [to_document(json.loads(r)) for r in raw[1:]]  # built outside the clock: the driver's own cost
    started = time.perf_counter()
    for i in range(0, len(documents), batch):
        await events.insert_many(documents[i : i + batch], ordered=False)
    elapsed = time.perf_counter() - started
    count = await events.count_documents({})
    await client.close()
    assert count == len(raw), count
    return len(documents) / elapsed


async def count(uri: str, database: str) -> int:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri)
    try:
        return await client[database].events.count_documents({})
    finally:
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wafermon-bench-mongo-") as tmp:
        peer = FerretDb(Path(tmp))
        peer.start()
        try:
            asyncio.run(through_driver(peer.uri, make_events(args.events // 4 + 1), args.batch, "warmup"))
            with_jobs = asyncio.run(through_backend(peer.uri, make_events(args.events + 1), args.batch, "b1", "jobs"))
            events_only = asyncio.run(through_backend(peer.uri, make_events(args.events + 1), args.batch, "b2", ""))
            driver = asyncio.run(through_driver(peer.uri, make_events(args.events + 1), args.batch, "driver"))
            counted = [asyncio.run(count(peer.uri, db)) for db in ("b1", "b2")]
        finally:
            peer.close()
    assert counted == [args.events + 1] * 2, counted
    print(f"FerretDB 1.24 over SQLite (not MongoDB), {args.events} events in batches of {args.batch}")
    print(f"  mongodb backend, events + jobs : {with_jobs:10.0f} events/s")
    print(f"  mongodb backend, events only   : {events_only:10.0f} events/s")
    print(f"  pymongo insert_many            : {driver:10.0f} events/s")
    print(f"  ratio backend/driver           : {events_only / driver:10.2f} (with jobs {with_jobs / driver:.2f})")


if __name__ == "__main__":
    main()
