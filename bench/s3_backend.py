#!/usr/bin/env python3
"""s3 backend benchmark: events/s into moto's S3 (an AWS protocol emulator in server mode, not AWS)
through the sidecar's backend (`send_batch`, batches of --batch, spans of the same size) next to
aiobotocore writing the same objects itself (the same gzip NDJSON bodies under the same keys, one
put_object each) in the same run; prints both and the ratio (backend / aiobotocore; above 1 is
faster).

    .venv/bin/python bench/s3_backend.py [--events 20000] [--batch 500]

Starts its own moto server on a free port (testkit's MotoServer); each side writes to its own bucket.
moto is CPU-hungry and shares the machine with the client: the figures say how much the backend
adds over a plain client, not what AWS would sustain.
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
from wafermon_sidecar.backends.s3 import S3Backend, encode_ndjson, merged, object_key
from wafermon_testkit.events import event
from wafermon_testkit.moto_server import CREDENTIALS, REGION, MotoServer


def make_events(n: int) -> list[bytes]:
    start = datetime(2026, 3, 1, 10, tzinfo=UTC)
    return [
        json.dumps(
            event("finished", str(uuid.uuid4()), 1, start + timedelta(milliseconds=i), site_id=f"fab{i % 2}")
        ).encode()
        for i in range(n)
    ]


async def through_backend(url: str, bucket: str, raw: list[bytes], batch: int) -> float:
    backend = S3Backend("bench", {"bucket": bucket, "endpoint_url": url, "object_events": batch})
    await backend.initialize()
    started = time.perf_counter()
    for i in range(0, len(raw), batch):
        await backend.send_batch(Batch(raw[i : i + batch], i))
    elapsed = time.perf_counter() - started
    await backend.close()
    return len(raw) / elapsed


async def through_aiobotocore(url: str, bucket: str, raw: list[bytes], batch: int) -> float:
    async with AioSession().create_client("s3", region_name=REGION, endpoint_url=url) as s3:
        started = time.perf_counter()
        for i in range(0, len(raw), batch):
            objects: dict[str, list[bytes]] = {}
            for seq, item in enumerate(raw[i : i + batch], start=i):
                objects.setdefault(object_key("wafermon", json.loads(item), seq, batch), []).append(item)
            for key, events in objects.items():
                await s3.put_object(Bucket=bucket, Key=key, Body=encode_ndjson(merged([], events)))
        elapsed = time.perf_counter() - started
    return len(raw) / elapsed


def count_objects(url: str, bucket: str) -> int:
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=url)
    return sum(len(p.get("Contents", [])) for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    with tempfile.TemporaryDirectory(prefix="wafermon-bench-s3-") as tmp, MotoServer(Path(tmp)) as moto:
        s3 = boto3.client("s3", region_name=REGION, endpoint_url=moto.url)
        for bucket in ("bench-backend", "bench-client", "bench-warmup"):
            s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        asyncio.run(through_aiobotocore(moto.url, "bench-warmup", make_events(args.batch * 2), args.batch))
        raw = make_events(args.events)
        backend_rate = asyncio.run(through_backend(moto.url, "bench-backend", raw, args.batch))
        client_rate = asyncio.run(through_aiobotocore(moto.url, "bench-client", raw, args.batch))
        counts = count_objects(moto.url, "bench-backend"), count_objects(moto.url, "bench-client")
    assert counts[0] == counts[1], counts
    print(f"moto S3 emulator, {args.events} events in batches of {args.batch} ({counts[0]} objects each)")
    print(f"  s3 backend            : {backend_rate:10.0f} events/s")
    print(f"  aiobotocore put_object: {client_rate:10.0f} events/s")
    print(f"  ratio backend/client  : {backend_rate / client_rate:10.2f}")


if __name__ == "__main__":
    main()
