"""What the per-backend benches (bench/<type>_backend.py) share: the events they send and the clock
around a backend's send_batch. Each bench keeps its own peer, its reference client and its output."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from wafermon_sidecar.backends import Backend, Batch
from wafermon_testkit.events import event


def finished_events(n: int, **fields: Any) -> list[bytes]:
    """n `finished` events of n different jobs, a millisecond apart from an hour ago, as JSON bytes;
    `fields` are set on every event."""
    start = datetime.now(UTC) - timedelta(hours=1)
    return [
        json.dumps(event("finished", str(uuid.uuid4()), 1, start + timedelta(milliseconds=i), **fields)).encode()
        for i in range(n)
    ]


async def send_batch_rate(backend: Backend, raw: list[bytes], batch: int) -> float:
    """Events/s of backend.send_batch over raw[1:] in batches of `batch` events. The first event goes
    alone before the clock starts, so connecting, creating tables or templates and the like are not
    timed. Initializes the backend first and closes it after."""
    await backend.initialize()
    await backend.send_batch(Batch(raw[:1]))
    started = time.perf_counter()
    for i in range(1, len(raw), batch):
        await backend.send_batch(Batch(raw[i : i + batch], i))
    elapsed = time.perf_counter() - started
    await backend.close()
    return (len(raw) - 1) / elapsed
