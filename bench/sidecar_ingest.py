#!/usr/bin/env python3
"""Sidecar ingest benchmark: events/s acknowledged (fsync'd on the spool) over real HTTP, events/s
delivered to the filesystem backend, and the raw baseline of writing+fsyncing the same bytes.

    .venv/bin/python bench/sidecar_ingest.py [--events 200000] [--batch 500] [--connections 16] [--format ndjson]

Starts `wafermon-sidecar` as a subprocess on a free port with a temporary spool (on the same disk as
--dir, default the system temp dir) and one filesystem backend; the client keeps its connections
alive and sends pre-encoded bodies, so the figure is the sidecar's cost, not the client's encoding.
The defaults are what the SDKs send: NDJSON (the C core's batch format, under every SDK), over 16
connections (one per monitored process; a host runs many). `--format array` sends compact JSON
arrays. Client and sidecar share the machine's cores, as they do on a real host.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

from wafermon_schema import check_batch, vectors_path
from wafermon_sidecar.validation import judge


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds so far of a process (all its threads), from Linux /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def make_bodies(total: int, batch: int, ndjson: bool = False) -> list[bytes]:
    """Bodies of `batch` events each: a compact JSON array, or NDJSON (what the C core sends)."""
    valid = [v["event"] for v in json.loads(Path(vectors_path()).read_text()) if v["valid"]]
    bodies = []
    for start in range(0, total, batch):
        events = []
        for i in range(start, min(start + batch, total)):
            event = dict(valid[i % len(valid)])
            event["event_id"] = str(uuid.uuid4())
            events.append(event)
        if ndjson:
            bodies.append(b"\n".join(json.dumps(e, separators=(",", ":")).encode() for e in events) + b"\n")
        else:
            bodies.append(json.dumps(events, separators=(",", ":")).encode())
    return bodies


def raw_baseline(bodies: list[bytes], directory: Path) -> float:
    """Plain Python: append each body to a file and fdatasync it, batch by batch."""
    path = directory / "baseline.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    events = sum(body.count(b'"event_id"') for body in bodies)
    started = time.perf_counter()
    for body in bodies:
        os.write(fd, body)
        os.fdatasync(fd)
    elapsed = time.perf_counter() - started
    os.close(fd)
    path.unlink()
    return events / elapsed


def validation_only(bodies: list[bytes]) -> tuple[float, float]:
    """Events/s of judge() (the native check on these all-valid bodies) and of the authority alone
    (wafermon_schema.check_batch: what a body the native check is not sure of costs), in CPU time."""
    sample = bodies[: min(len(bodies), 40)]
    started = time.process_time()
    events = sum(judge(body).accepted for body in sample)
    judged = time.process_time() - started
    started = time.process_time()
    authority = sum(len(check_batch(body)[0]) for body in sample[:10])
    return events / judged, authority / (time.process_time() - started)


async def wait_ready(base: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(base + "/v1/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the sidecar did not come up")


async def drive(base: str, bodies: list[bytes], connections: int, content_type: str) -> tuple[float, int, int]:
    queue = list(reversed(bodies))
    acked = 0
    refused = 0
    connector = aiohttp.TCPConnector(limit=connections)
    headers = {"Content-Type": content_type}
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            nonlocal acked, refused
            while queue:
                body = queue.pop()
                while True:
                    async with session.post(base + "/v1/ingest/events:batch", data=body, headers=headers) as r:
                        reply = await r.read()
                        if r.status == 202:
                            acked += json.loads(reply)["accepted"]
                            break
                        refused += 1
                        if r.status != 503:
                            raise RuntimeError(f"unexpected {r.status}: {reply[:200]!r}")
                        await asyncio.sleep(float(r.headers.get("Retry-After", "1")))

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(connections)))
        return time.perf_counter() - started, acked, refused


async def wait_delivered(base: str, backend: str, timeout: float) -> float:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            async with session.get(base + "/v1/healthz") as r:
                health = await r.json()
            if health["backends"][backend]["lag_events"] == 0:
                return time.perf_counter()
            await asyncio.sleep(0.05)
    raise RuntimeError("the filesystem backend did not catch up in time")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--fs-batch", type=int, default=5000, help="filesystem backend max_batch_size")
    parser.add_argument("--format", choices=["array", "ndjson"], default="ndjson", help="body format (C core: ndjson)")
    args = parser.parse_args()

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    work = Path(tempfile.mkdtemp(prefix="sidecar-bench-", dir=args.dir))
    ndjson = args.format == "ndjson"
    bodies = make_bodies(args.events, args.batch, ndjson)
    total_bytes = sum(len(b) for b in bodies)
    port = free_port()
    config = {
        "ingest": {
            "port": port,
            "max_batch_size": args.fs_batch,
            "flush_interval": 0.05,
        },
        "spool": {"path": str(work / "spool"), "max_size_mb": 4096},
        "backends": [{"type": "filesystem", "name": "files", "config": {"path": str(work / "out")}}],
        "log_level": "WARNING",
    }
    (work / "config.json").write_text(json.dumps(config))
    exe = shutil.which("wafermon-sidecar") or str(Path(sys.executable).with_name("wafermon-sidecar"))
    proc = subprocess.Popen([exe, "--config", str(work / "config.json")])
    base = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(wait_ready(base))
        baseline = raw_baseline(bodies, work)
        validate_rate, authority_rate = validation_only(bodies)
        cpu0, client0 = process_cpu_s(proc.pid), time.process_time()
        t0 = time.perf_counter()
        elapsed, acked, refused = asyncio.run(
            drive(base, bodies, args.connections, "application/x-ndjson" if ndjson else "application/json")
        )
        cpu_ingest, client_cpu = process_cpu_s(proc.pid) - cpu0, time.process_time() - client0
        done = asyncio.run(wait_delivered(base, "files", timeout=600))
        cpu_total = process_cpu_s(proc.pid) - cpu0
        delivered_rate = acked / (done - t0)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)

    ingest_rate = acked / elapsed
    print(
        f"events: {acked} acknowledged in {len(bodies)} batches of {args.batch} "
        f"({total_bytes / len(bodies) / 1024:.0f} KiB each, {total_bytes / acked:.0f} B/event), "
        f"{args.connections} keep-alive connections, {refused} 503s, "
        f"{args.format} bodies, load average before: {load_before}"
    )
    print(f"sidecar ingest (HTTP + validation + fsync'd spool): {ingest_rate:12,.0f} events/s")
    print(f"delivered to filesystem backend (fsync'd files):     {delivered_rate:12,.0f} events/s")
    print(f"raw baseline (write+fdatasync same bytes, Python):   {baseline:12,.0f} events/s")
    print(f"validation alone (judge(), one core CPU time):       {validate_rate:12,.0f} events/s")
    print(f"authority alone (check_batch, one core CPU time):     {authority_rate:12,.0f} events/s")
    print(
        f"CPU per event: sidecar {cpu_ingest / acked * 1e6:.2f} us during ingest, "
        f"{cpu_total / acked * 1e6:.2f} us until delivered (user+sys, /proc); "
        f"bench client {client_cpu / acked * 1e6:.2f} us"
    )
    print(
        f"ratio ingest/raw baseline: {ingest_rate / baseline:.3f}; target 200,000 events/s: "
        f"{'met' if ingest_rate >= 200_000 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
