#!/usr/bin/env python3
"""cassandra backend benchmark: events/s into a real single-node Cassandra 5.0 through the sidecar's
backend (`send_batch`, batches of --batch) next to the DataStax driver writing the same rows directly
(the same prepared INSERT, one UNLOGGED batch per partition and chunk, `execute_concurrent` with the
backend's concurrency) in the same run; prints both and the ratio (backend / driver; above 1 is faster).

    .venv/bin/python bench/cassandra_backend.py [--events 20000] [--batch 500]

Starts its own node (sidecar/tests_cassandra/cassandra_peer.py: 512 MiB-1 GiB heap) in a temp dir;
each side writes into its own keyspace.
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
sys.path.insert(0, str(REPO / "sidecar" / "tests_cassandra"))

from backend_timing import send_batch_rate  # noqa: E402
from cassandra.concurrent import execute_concurrent  # type: ignore[import-untyped]  # noqa: E402
from cassandra.query import BatchStatement, BatchType  # type: ignore[import-untyped]  # noqa: E402
from cassandra_peer import CassandraNode  # noqa: E402

from wafermon_sidecar.backends.cassandra import (  # noqa: E402
    COLUMNS,
    CassandraBackend,
    create_table_cql,
    partition_batches,
    to_row,
)
from wafermon_testkit.events import event  # noqa: E402

SITES = ("fab1", "fab2", "fab3", "fab4")


def make_events(n: int) -> list[bytes]:
    """n `finished` events over four sites and two UTC days (eight partitions)."""
    start = datetime.now(UTC).replace(hour=23, minute=59, second=0) - timedelta(days=1)
    return [
        json.dumps(
            event("finished", str(uuid.uuid4()), 1, start + timedelta(milliseconds=10 * i), site_id=SITES[i % 4])
        ).encode()
        for i in range(n)
    ]


async def through_backend(port: int, raw: list[bytes], batch: int) -> float:
    backend = CassandraBackend("bench", {"contact_points": ["127.0.0.1"], "port": port, "keyspace": "bench_backend"})
    # connection, schema, prepare (the first event, sent before the clock starts)
    return await send_batch_rate(backend, raw, batch)


def through_driver(node: CassandraNode, raw: list[bytes], batch: int) -> float:
    session = node.session()
    session.execute(
        "CREATE KEYSPACE IF NOT EXISTS bench_driver"
        " WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}"
    )
    session.execute(create_table_cql("bench_driver", "events"))
    insert = session.prepare(
        f"INSERT INTO bench_driver.events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    )
    chunks = []
    for i in range(1, len(raw), batch):  # rows built outside the clock: the driver's own cost
        rows = {p: to_row(json.loads(r), r.decode()) for p, r in enumerate(raw[i : i + batch])}
        chunks.append((rows, partition_batches(rows)))
    started = time.perf_counter()
    for rows, runs in chunks:
        statements = []
        for run in runs:
            statement = BatchStatement(batch_type=BatchType.UNLOGGED)
            for p in run:
                statement.add(insert, rows[p])
            statements.append((statement, ()))
        for ok, result in execute_concurrent(session, statements, concurrency=8, raise_on_first_error=True):
            assert ok, result
    elapsed = time.perf_counter() - started
    return (len(raw) - 1) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wafermon-bench-cass-") as tmp:
        node = CassandraNode(Path(tmp))
        node.start()
        try:
            through_driver(node, make_events(args.events // 4 + 1), args.batch)  # warm the node's JIT
            node.session().execute("TRUNCATE bench_driver.events")
            backend_rate = asyncio.run(through_backend(node.port, make_events(args.events + 1), args.batch))
            driver_rate = through_driver(node, make_events(args.events + 1), args.batch)
            counted = [
                node.session().execute(f"SELECT count(*) FROM {ks}.events").one()[0]
                for ks in ("bench_backend", "bench_driver")
            ]
        finally:
            node.close()
    assert counted == [args.events + 1, args.events], counted
    print(f"Cassandra 5.0 (1 node), {args.events} events in batches of {args.batch}")
    print(f"  cassandra backend          : {backend_rate:10.0f} events/s")
    print(f"  cassandra-driver directly  : {driver_rate:10.0f} events/s")
    print(f"  ratio backend/driver       : {backend_rate / driver_rate:10.2f}")


if __name__ == "__main__":
    main()
