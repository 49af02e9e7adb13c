#!/usr/bin/env python3
"""cloudwatch backend benchmark: events/s into moto's CloudWatch Logs (an AWS protocol emulator in
server mode, not AWS) through the sidecar's backend (`send_batch`, batches of --batch, EMF lines
for the finished events) next to aiobotocore's put_log_events sending the same log events (one
request per batch, sorted by time) in the same run; prints both and the ratio (backend /
aiobotocore; above 1 is faster).

    .venv/bin/python bench/cloudwatch_backend.py [--events 20000] [--batch 500]

Starts its own moto server on a free port (testkit's MotoServer); each side writes its own stream.
moto shares the machine with the client: the figures say how much the backend adds over a plain
client, not what CloudWatch would sustain.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiobotocore.session import AioSession
from backend_timing import send_batch_rate

from wafermon_sidecar.backends.cloudwatch import CloudWatchBackend, log_events
from wafermon_testkit.events import event
from wafermon_testkit.moto_server import CREDENTIALS, REGION, MotoServer

GROUP = "/wafermon/bench"


def make_events(n: int) -> list[bytes]:
    start = datetime.now(UTC) - timedelta(hours=1)
    kinds = ("started", "progress", "finished")
    return [
        json.dumps(event(kinds[i % 3], str(uuid.uuid4()), 1, start + timedelta(milliseconds=i))).encode()
        for i in range(n)
    ]


async def through_backend(url: str, raw: list[bytes], batch: int) -> float:
    backend = CloudWatchBackend("bench", {"log_group": GROUP, "log_stream": "backend", "endpoint_url": url})
    # creates the group and the stream (the first event, sent before the clock starts)
    return await send_batch_rate(backend, raw, batch)


async def through_aiobotocore(url: str, raw: list[bytes], batch: int, stream: str = "client") -> float:
    async with AioSession().create_client("logs", region_name=REGION, endpoint_url=url) as logs:
        await logs.create_log_stream(logGroupName=GROUP, logStreamName=stream)
        started = time.perf_counter()
        for i in range(1, len(raw), batch):
            entries = [e for r in raw[i : i + batch] for e in log_events(r, json.loads(r), "Wafermon")]
            entries.sort(key=lambda e: e["timestamp"])
            await logs.put_log_events(logGroupName=GROUP, logStreamName=stream, logEvents=entries)
        elapsed = time.perf_counter() - started
    return (len(raw) - 1) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    with tempfile.TemporaryDirectory(prefix="wafermon-bench-cw-") as tmp, MotoServer(Path(tmp)) as moto:
        backend_rate = asyncio.run(through_backend(moto.url, make_events(args.events + 1), args.batch))
        client_rate = asyncio.run(through_aiobotocore(moto.url, make_events(args.events + 1), args.batch))
    print(f"moto CloudWatch Logs emulator, {args.events} events in batches of {args.batch} (+ EMF lines)")
    print(f"  cloudwatch backend         : {backend_rate:10.0f} events/s")
    print(f"  aiobotocore put_log_events : {client_rate:10.0f} events/s")
    print(f"  ratio backend/client       : {backend_rate / client_rate:10.2f}")


if __name__ == "__main__":
    main()
