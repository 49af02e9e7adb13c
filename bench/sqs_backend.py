#!/usr/bin/env python3
"""sqs backend benchmark: events/s into a standard queue of moto's SQS (an AWS protocol emulator in
server mode, not AWS) through the sidecar's backend (`send_batch`, batches of --batch, concurrency
1) next to aiobotocore's send_message_batch sending the same entries (10 a call, one call after the
other) in the same run; prints both and the ratio (backend / aiobotocore; above 1 is faster).
A standard queue, because moto's FIFO queues cost it O(messages held) per message (about 10 events/s
after a few hundred here): that would measure moto alone.

    .venv/bin/python bench/sqs_backend.py [--events 10000] [--batch 500]

Starts its own moto server on a free port (testkit's MotoServer); each side sends to its own queue.
moto is CPU-hungry and shares the machine with the client: the figures say how much the backend
adds over a plain client, not what SQS would sustain.
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

import boto3
from aiobotocore.session import AioSession

from wafermon_sidecar.backends import Batch
from wafermon_sidecar.backends.sqs import SqsBackend, to_entry
from wafermon_testkit.events import event
from wafermon_testkit.moto_server import CREDENTIALS, REGION, MotoServer


def make_events(n: int) -> list[bytes]:
    start = datetime.now(UTC) - timedelta(hours=1)
    jobs = [str(uuid.uuid4()) for _ in range(50)]
    return [
        json.dumps(event("progress", jobs[i % 50], i, start + timedelta(milliseconds=i))).encode() for i in range(n)
    ]


async def through_backend(url: str, queue: str, raw: list[bytes], batch: int) -> float:
    backend = SqsBackend("bench", {"queue_url": queue, "endpoint_url": url, "concurrency": 1})
    await backend.initialize()
    started = time.perf_counter()
    for i in range(0, len(raw), batch):
        await backend.send_batch(Batch(raw[i : i + batch], i))
    elapsed = time.perf_counter() - started
    await backend.close()
    return len(raw) / elapsed


async def through_aiobotocore(url: str, queue: str, raw: list[bytes]) -> float:
    entries = [to_entry(r, json.loads(r), str(i % 10), fifo=False) for i, r in enumerate(raw)]
    async with AioSession().create_client("sqs", region_name=REGION, endpoint_url=url) as sqs:
        started = time.perf_counter()
        for i in range(0, len(entries), 10):
            answer = await sqs.send_message_batch(QueueUrl=queue, Entries=entries[i : i + 10])
            assert not answer.get("Failed"), answer
        elapsed = time.perf_counter() - started
    return len(raw) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    with tempfile.TemporaryDirectory(prefix="wafermon-bench-sqs-") as tmp, MotoServer(Path(tmp)) as moto:
        sqs = boto3.client("sqs", region_name=REGION, endpoint_url=moto.url)
        queues = [sqs.create_queue(QueueName=f"bench-{side}")["QueueUrl"]
                  for side in ("backend", "client", "warmup")]  # fmt: skip
        asyncio.run(through_aiobotocore(moto.url, queues[2], make_events(200)))
        backend_rate = asyncio.run(through_backend(moto.url, queues[0], make_events(args.events), args.batch))
        client_rate = asyncio.run(through_aiobotocore(moto.url, queues[1], make_events(args.events)))
        depths = [
            int(sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["ApproximateNumberOfMessages"])["Attributes"]
                ["ApproximateNumberOfMessages"])
            for q in queues[:2]
        ]  # fmt: skip
    assert depths == [args.events, args.events], depths
    print(f"moto SQS emulator (standard queue), {args.events} events in batches of {args.batch}")
    print(f"  sqs backend                   : {backend_rate:10.0f} events/s")
    print(f"  aiobotocore send_message_batch: {client_rate:10.0f} events/s")
    print(f"  ratio backend/client          : {backend_rate / client_rate:10.2f}")


if __name__ == "__main__":
    main()
