"""The loki backend's throughput into the Loki PROTOCOL DOUBLE (wafermon_testkit.loki_double_server,
a separate process, real HTTP; not a real Loki, which is AGPL and cannot be a dependency), next to a
plain httpx client POSTing the very same push bodies to a fresh double in the same run: the ratio
is what the backend's own work costs (decoding, canonical JSON lines, sorting and cutting pushes,
aiohttp) over sending bytes that are already made.

    .venv/bin/python bench/loki_push.py [--events 20000] [--batch 500] [--rounds 2]

Prints events/s for both, the ratio, and the bench process's CPU µs per event for the backend.
Each round uses two fresh doubles (so neither run meets entries the other stored).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec

from wafermon_sidecar.backends.base import Batch
from wafermon_sidecar.backends.loki import PUSH_PATH, LokiBackend
from wafermon_sidecar.backends.loki_encoding import entry, push_body, pushes
from wafermon_testkit.events import event, new_id
from wafermon_testkit.loki_double import LokiDouble


def make_batches(count: int, size: int) -> list[list[bytes]]:
    """`count` events (jobs and sub-jobs of a few sites and apps, recent times) in batches of `size`."""
    start = datetime.now(UTC) - timedelta(minutes=10)
    raws = []
    for i in range(count):
        kind = ("started", "progress", "finished")[i % 3]
        body = event(
            kind,
            new_id(),
            i % 3,
            start + timedelta(microseconds=i * 17),
            entity_type="job" if i % 4 else "subjob",
            parent_id=None if i % 4 else new_id(),
            site_id=f"fab{i % 3}",
            app=("etch-line", "litho", "cmp")[i % 3],
            metadata={"wafer": f"W-{i}", "recipe": "R-17", "step": {"n": i % 12, "temp_c": 21.5}},
        )
        raws.append(msgspec.json.encode(body))
    return [raws[i : i + size] for i in range(0, count, size)]


async def run_backend(url: str, batches: list[list[bytes]]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) to send every batch through LokiBackend."""
    backend = LokiBackend("loki", {"url": url})
    await backend.initialize()
    try:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for raws in batches:
            await backend.send_batch(Batch(raws))
        return time.perf_counter() - wall0, time.process_time() - cpu0
    finally:
        await backend.close()


def run_httpx(url: str, bodies: list[bytes]) -> float:
    """Wall seconds to POST every body with one keep-alive httpx client (each answer must be 204)."""
    with httpx.Client(headers={"Content-Type": "application/json"}, timeout=60) as client:
        wall0 = time.perf_counter()
        for body in bodies:
            answer = client.post(url + PUSH_PATH, content=body)
            assert answer.status_code == 204, answer.text
        return time.perf_counter() - wall0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500, help="events per delivery batch")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    batches = make_batches(args.events, args.batch)
    # The same payloads for the baseline: the push bodies the backend builds for each batch.
    bodies = []
    for raws in batches:
        entries = [entry(raw, i, {}) for i, raw in enumerate(raws)]
        bodies += [push_body(push) for push in pushes(entries, 1024 * 1024)]
    print(f"{args.events} events in batches of {args.batch}, {len(bodies)} pushes, {sum(map(len, bodies))} bytes")
    with tempfile.TemporaryDirectory() as workdir:
        for round_ in range(args.rounds):
            with LokiDouble(Path(workdir) / f"plain{round_}.jsonl") as plain:
                httpx_s = run_httpx(plain.url, bodies)
                assert len(plain.entries()) == args.events
            with LokiDouble(Path(workdir) / f"backend{round_}.jsonl") as double:
                backend_s, cpu_s = asyncio.run(run_backend(double.url, batches))
                assert len(double.entries()) == args.events
            print(f"round {round_ + 1}:")
            print(f"  loki backend        {args.events / backend_s:10,.0f} events/s ({backend_s:.2f} s)")
            print(f"  plain httpx POST    {args.events / httpx_s:10,.0f} events/s ({httpx_s:.2f} s)")
            print(f"  ratio backend/httpx {httpx_s / backend_s:10.2f}")
            print(f"  backend CPU in this process {cpu_s / args.events * 1e6:.1f} µs/event")


if __name__ == "__main__":
    main()
