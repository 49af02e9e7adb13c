#!/usr/bin/env python3
"""What a backend's filter / transform costs (sidecar/src/wafermon_sidecar/shaping.py).

    .venv/bin/python bench/backend_shaping.py [--events 200000] [--batch 500]

1. The pipeline alone: CPU microseconds per event of Shaper.shape over the spool's NDJSON in
   batches of --batch, per configuration, next to the untouched path of a backend without one.
2. Through a real sidecar: the same spool (filled once while a dead webhook holds it) drained by a
   fresh filesystem backend per configuration, one sidecar run each: events/s from start to lag 0
   and the sidecar's CPU per event (user+sys from /proc), so the ratio to the unshaped run is the
   end-to-end cost of the configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from sidecar_ingest import drive, free_port, make_bodies, process_cpu_s, wait_ready

from wafermon_sidecar.backends.base import Batch
from wafermon_sidecar.backends.filesystem import FilesystemBackend
from wafermon_sidecar.config import BackendSettings
from wafermon_sidecar.shaping import Shaper, build_shaper

# name → the backend's shaping keys; every filter here keeps every event (the worst case: all decoded)
PIPELINES: dict[str, dict[str, Any]] = {
    "none (untouched)": {},
    "filter": {"filter": {"not": {"status": "cancelled"}, "site_id": ["fab1", "fab2", "fab-a", "site-1"]}},
    "filter (metadata)": {"filter": {"not": {"metadata_has": "no-such-key"}}},
    "filter+fields+rename": {
        "filter": {"not": {"status": "cancelled"}},
        "fields": ["event_id", "at", "site_id", "app.name", "status", "event_kind", "metrics"],
        "rename": {"at": "timestamp", "app.name": "app_name"},
    },
}


def _hook(event: dict[str, Any]) -> dict[str, Any]:
    event["severity"] = "high" if event.get("status") == "failed" else "info"
    return event


def pipeline_alone(bodies: list[bytes]) -> dict[str, float]:
    """CPU µs per event of each configuration's shape() (and of a Python hook), over the bodies as blocks."""
    blocks = [body.rstrip(b"\n") for body in bodies]
    counts = [block.count(b"\n") + 1 for block in blocks]
    total = sum(counts)
    results: dict[str, float] = {}
    for name, keys in {**PIPELINES, "hook (Python)": {}}.items():
        shaper = build_shaper(BackendSettings(type="filesystem", name="b", **keys), FilesystemBackend)
        if name == "hook (Python)":
            shaper = Shaper(None, _hook, "bench", None, None, frozenset({"event_id"}), "bench")
        started = time.process_time()
        for block, count in zip(blocks, counts, strict=True):
            batch = Batch.from_blocks([block], count, 0)
            if shaper is not None:
                shaped = shaper.shape(batch.raw, 0)
                batch = Batch(shaped.raw, 0, seqs=shaped.seqs, decoded=shaped.decoded)
            batch.ndjson_parts()
        results[name] = (time.process_time() - started) / total * 1e6
    return results


async def drained(base: str, backend: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            async with session.get(base + "/v1/healthz") as r:
                health = await r.json()
            if health["backends"][backend]["lag_events"] == 0:
                return
            await asyncio.sleep(0.02)
    raise RuntimeError(f"{backend} did not catch up in time")


def run_sidecar(work: Path, backends: list[dict[str, Any]], port: int) -> subprocess.Popen[bytes]:
    config = {
        "ingest": {"port": port, "max_batch_size": 500, "flush_interval": 0.05},
        "spool": {"path": str(work / "spool"), "max_size_mb": 4096},
        "backends": backends,
        "log_level": "ERROR",
    }
    (work / "config.json").write_text(json.dumps(config))
    exe = shutil.which("wafermon-sidecar") or str(Path(sys.executable).with_name("wafermon-sidecar"))
    return subprocess.Popen([exe, "--config", str(work / "config.json")])


def through_a_sidecar(bodies: list[bytes], work: Path, events: int) -> dict[str, tuple[float, float]]:
    """events/s and sidecar CPU µs/event of a fresh filesystem backend draining the same spool."""
    holder = {"type": "webhook", "name": "holder", "config": {"webhook_url": "http://127.0.0.1:9/", "timeout": 1}}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = run_sidecar(work, [holder], port)
    try:
        asyncio.run(wait_ready(base))
        asyncio.run(drive(base, bodies, 4, "application/x-ndjson"))
    finally:
        proc.terminate()
        proc.wait(30)
    results: dict[str, tuple[float, float]] = {}
    for i, (name, keys) in enumerate(PIPELINES.items()):
        backend = {"type": "filesystem", "name": f"run{i}", "config": {"path": str(work / f"out{i}")}, **keys}
        proc = run_sidecar(work, [holder, backend], port)
        try:
            started = time.perf_counter()
            cpu0 = process_cpu_s(proc.pid)  # start-up included in both: it is the same for every run
            asyncio.run(wait_ready(base))
            asyncio.run(drained(base, f"run{i}"))
            elapsed, cpu = time.perf_counter() - started, process_cpu_s(proc.pid) - cpu0
        finally:
            proc.terminate()
            proc.wait(30)
        results[name] = (events / elapsed, cpu / events * 1e6)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    bodies = make_bodies(args.events, args.batch, ndjson=True)
    print(f"{args.events} events in batches of {args.batch} ({sum(map(len, bodies)) / args.events:.0f} B/event)")
    print("the pipeline alone (CPU us/event, shape() and the batch's bytes):")
    for name, us in pipeline_alone(bodies).items():
        print(f"  {name:24s} {us:8.2f} us/event")
    work = Path(tempfile.mkdtemp(prefix="shaping-bench-"))
    try:
        figures = through_a_sidecar(bodies, work, args.events)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    plain_rate, plain_cpu = figures["none (untouched)"]
    print("through a sidecar (a fresh filesystem backend drains the spool; sidecar start-up included):")
    for name, (rate, cpu) in figures.items():
        print(
            f"  {name:24s} {rate:10,.0f} events/s  {cpu:6.2f} us CPU/event (+{cpu - plain_cpu:5.2f})  "
            f"ratio {rate / plain_rate:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
