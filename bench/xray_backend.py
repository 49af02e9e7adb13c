#!/usr/bin/env python3
"""xray backend benchmark: events/s into moto's X-Ray (an AWS protocol emulator in server mode, not
AWS) through the sidecar's backend (`send_batch`, batches of --batch) next to aiobotocore's
put_trace_segments sending the same documents (50 a call) in the same run; prints both and the
ratio (backend / aiobotocore; above 1 is faster). Events: started and finished of jobs with two
sub-jobs each, so every event is a document.

    .venv/bin/python bench/xray_backend.py [--events 6000] [--batch 500]

Starts its own moto server on a free port (testkit's MotoServer). moto shares the machine with
the client: the figures say how much the backend adds over a plain client, not what X-Ray sustains.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiobotocore.session import AioSession

from wafermon_sidecar.backends import Batch
from wafermon_sidecar.backends.xray import XRayBackend, to_document
from wafermon_testkit.events import job_story
from wafermon_testkit.moto_server import CREDENTIALS, REGION, MotoServer


def make_events(n: int) -> list[bytes]:
    start = datetime.now(UTC) - timedelta(hours=1)
    events: list[bytes] = []
    while len(events) < n:
        story = job_story(start=start, subjobs=2, progress_steps=0)
        events += [json.dumps(e).encode() for e in story if e["event_kind"] in ("started", "finished")]
    return events[:n]


async def through_backend(url: str, raw: list[bytes], batch: int) -> float:
    backend = XRayBackend("bench", {"endpoint_url": url})
    await backend.initialize()
    await backend.send_batch(Batch(make_events(2)))  # credentials and connection, outside the clock
    started = time.perf_counter()
    for i in range(0, len(raw), batch):
        await backend.send_batch(Batch(raw[i : i + batch], i))
    elapsed = time.perf_counter() - started
    await backend.close()
    return len(raw) / elapsed


async def through_aiobotocore(url: str, raw: list[bytes]) -> float:
    documents = [json.dumps(to_document(json.loads(r)), separators=(",", ":")) for r in raw]
    async with AioSession().create_client("xray", region_name=REGION, endpoint_url=url) as xray:
        await xray.put_trace_segments(TraceSegmentDocuments=documents[:1])  # the same warm-up
        started = time.perf_counter()
        for i in range(0, len(documents), 50):
            answer = await xray.put_trace_segments(TraceSegmentDocuments=documents[i : i + 50])
            assert not answer.get("UnprocessedTraceSegments"), answer
        elapsed = time.perf_counter() - started
    return len(raw) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    os.environ.update(CREDENTIALS)
    with tempfile.TemporaryDirectory(prefix="wafermon-bench-xray-") as tmp, MotoServer(Path(tmp)) as moto:
        backend_rate = asyncio.run(through_backend(moto.url, make_events(args.events), args.batch))
        client_rate = asyncio.run(through_aiobotocore(moto.url, make_events(args.events)))
    print(f"moto X-Ray emulator, {args.events} events in batches of {args.batch}")
    print(f"  xray backend                   : {backend_rate:10.0f} events/s")
    print(f"  aiobotocore put_trace_segments : {client_rate:10.0f} events/s")
    print(f"  ratio backend/client           : {backend_rate / client_rate:10.2f}")


if __name__ == "__main__":
    main()
