#!/usr/bin/env python3
"""The ledger: every event an SDK acknowledged must be in the gateway's store exactly once, after
kill -9 of the sidecar and of the gateway, a gateway outage, a spool disk that fills and (with
``--store pg``) PostgreSQL restarts.

    .venv/bin/python bench/ledger.py [--events 20000] [--kills 5] [--store sqlite|pg] [--lanes 4] [--rate 250]

What runs (all real processes, on free loopback ports, in a temporary directory):

- SDK processes (bench/ledger_worker.py, the Python SDK over the C core) in ``--lanes`` parallel
  lanes; each lane starts one process after another, each emitting ``--events-per-process`` events
  of jobs with sub-jobs, progress, heartbeats and succeeded/failed/cancelled endings, paced to
  ``--rate`` events/s in all. They share one core spool directory, as the processes of one host do,
  so the spool of a process that ended while the sidecar was away is replayed by a later one. One
  process in four ends without calling ``flush()`` (the interpreter-exit path); every
  ``--big-every``-th process of a lane emits ``--big-events`` events of ~60 KB each, unpaced.
- One sidecar (``wafermon-sidecar``) whose spool is on a tmpfs of ``--spool-mb`` when run as root,
  so the disk really fills during the gateway outage (not root: ``spool.max_size_mb`` is made that
  size instead, which exercises the "spool full" 503 rather than ENOSPC; the output says which).
  Keep it above the largest request (16 MiB): a request larger than the whole disk can never be
  accepted. Backends: ``gateway`` (managed_api) and ``witness`` (filesystem, on the ordinary disk),
  which only helps to say where a lost event went missing.
- One gateway (``wafermon-gateway``) over SQLite, or over a PostgreSQL server the script starts
  itself (initdb in a temporary directory).
- Faults, at due times spread over the load: ``--kills`` kill -9 of the sidecar and as many of the
  gateway, each restarted after 0-1.5 s; ``--freezes`` SIGSTOP of the sidecar for 2-8 s; one gateway
  outage, at whose start one more process emits ``--big-events`` ~60 KB events at once, lasting
  until the sidecar's spool disk has refused writes for 3 s (at most ``--outage-max-s``); with
  ``--store pg``, ``--pg-restarts`` restarts of PostgreSQL (alternately ``-m immediate``, a crash,
  and ``-m fast``).

Acknowledged: an event whose SDK call returned without raising (it is then in the core's queue or
spool), emitted by an SDK process that exited with status 0. Workers record ``(entity_id, seq)``,
which names one event: the SDK does not expose event_ids, and the core numbers each entity's events
from 0. Every such event is promised to arrive: the SDK's counters must show nothing dropped or
dead-lettered, and the run fails if they do.

At the end everything is up again; one more SDK process opens the shared spool (adopting the slots
of processes that ended with events still spooled) and waits until its spool is empty, then the
script waits until the sidecar's backends have no lag (all bounded by ``--drain-timeout``). Then it
reads every row of the store's ``events`` table. stored = acknowledged events found; lost = not
found; duplicated = events stored as more than one row (by ``(entity_id, seq)`` or by event_id,
which the store's key should make impossible); unexpected = rows no SDK process acknowledged.
The last line is ``ledger: acknowledged=N stored=N lost=0 duplicated=0`` and the exit status is 0
only when nothing was lost, duplicated or unexpected and every SDK process ended cleanly. On a
failure the working directory is kept and lost events are traced (witness file, dead-letter files,
spools) to say which hop lost them.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from wafermon_testkit import free_port
from wafermon_testkit import postgres as testkit_postgres
from wafermon_testkit import process as testkit_process

HERE = Path(__file__).resolve().parent

BIN = Path(sys.executable).parent
Key = tuple[str, int]  # (entity_id, seq)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class Service(testkit_process.Service):
    """The test kit's service process, restarted on the same port by the chaos: kill -9, freeze, stop,
    start. Any HTTP answer counts as up (a gateway without its store says 503)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int, log_path: Path) -> None:
        url = f"http://127.0.0.1:{port}"
        super().__init__(argv, url, log_path, env=env, ready=lambda status: True, timeout=90, name=name)
        self.port = port
        self.starts = 0

    def start(self) -> Service:
        with open(self.log_path, "ab") as out:
            out.write(f"---- start {self.starts} at {time.strftime('%H:%M:%S')}\n".encode())
        self.starts += 1
        super().start()
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def freeze(self, seconds: float) -> None:
        """SIGSTOP, then SIGCONT after seconds: a process that holds its connections and answers nothing."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGSTOP)
            time.sleep(seconds)
            self.proc.send_signal(signal.SIGCONT)


class Postgres(testkit_postgres.Postgres):
    """The test kit's private PostgreSQL server, which the chaos thread restarts (immediate or fast)."""

    def __init__(self, base: Path) -> None:
        super().__init__(base, "-c max_connections=100")
        self.restarts: list[str] = []

    def restart(self, mode: str, down_s: float) -> None:
        self.stop(mode)
        time.sleep(down_s)
        self.start()
        self.restarts.append(mode)


@contextlib.contextmanager
def tmpfs(path: Path, size_mb: float) -> Iterator[bool]:
    """Mounts a tmpfs of size_mb at path when running as root; yields whether it did."""
    path.mkdir(parents=True)
    mounted = False
    if os.geteuid() == 0:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={int(size_mb * 1024)}k", "tmpfs", str(path)], capture_output=True
        )
        mounted = done.returncode == 0
        if not mounted:
            log(f"could not mount a tmpfs ({done.stderr.decode().strip()}); using a size-limited spool instead")
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(path)], capture_output=True)


def refused_counts(sidecar: Service) -> dict[str, float]:
    """The sidecar's requests_refused_total by reason (this incarnation), {} when it does not answer."""
    try:
        text = httpx.get(sidecar.url + "/metrics", timeout=5).text
    except httpx.TransportError:
        return {}
    found = re.findall(r'^wafermon_sidecar_requests_refused_total\{reason="(\w+)"\} ([0-9.e+]+)$', text, re.M)
    return {reason: float(value) for reason, value in found}


def sidecar_health(sidecar: Service) -> dict[str, Any] | None:
    try:
        health: dict[str, Any] = httpx.get(sidecar.url + "/v1/healthz", timeout=5).json()
        return health
    except (httpx.TransportError, ValueError):
        return None


@dataclass
class Chaos:
    """What was done to the services, and the sidecar's refusals summed over its incarnations."""

    done: collections.Counter[str] = field(default_factory=collections.Counter)
    refused: collections.Counter[str] = field(default_factory=collections.Counter)
    outage_s: float = 0.0
    spool_full_seen: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def note_refusals(self, sidecar: Service) -> None:
        with self.lock:
            for reason, value in refused_counts(sidecar).items():
                self.refused[reason] += int(value)


def run_chaos(
    args: argparse.Namespace,
    sidecar: Service,
    gateway: Service,
    pg: Postgres | None,
    fleet: Fleet,
    chaos: Chaos,
    load_done: threading.Event,
    duration: float,
) -> None:
    """Kills, the outage and PostgreSQL restarts at random times spread over the expected load."""
    rng = random.Random(args.seed)
    actions = ["kill-sidecar"] * args.kills + ["kill-gateway"] * args.kills + ["outage"]
    actions += ["freeze-sidecar"] * args.freezes
    if pg is not None:
        actions += ["pg-restart"] * args.pg_restarts
    rng.shuffle(actions)
    # the outage needs load to fill the spool disk: keep it in the first half
    actions.remove("outage")
    actions.insert(rng.randint(0, len(actions) // 2), "outage")
    # Due times spread over 85 % of the expected load, jittered; an action that falls behind (the
    # ones before it took long) runs at once, so the faults keep landing while the load runs.
    begin = time.monotonic()
    gap = duration * 0.85 / (len(actions) + 1)
    due = [begin + gap * (i + rng.uniform(0.5, 1.5)) for i in range(len(actions))]
    for number, action in enumerate(actions):
        time.sleep(max(0.2, due[number] - time.monotonic()))
        started = time.monotonic()
        if action == "kill-sidecar":
            chaos.note_refusals(sidecar)
            sidecar.kill()
            time.sleep(rng.uniform(0, 1.5))
            sidecar.start()
        elif action == "kill-gateway":
            gateway.kill()
            time.sleep(rng.uniform(0, 1.5))
            gateway.start()
        elif action == "freeze-sidecar":
            sidecar.freeze(rng.uniform(2, 8))
        elif action == "pg-restart":
            assert pg is not None
            pg.restart("immediate" if len(pg.restarts) % 2 == 0 else "fast", rng.uniform(0.5, 3))
        elif action == "outage":
            gateway.kill()
            fleet.burst()
            chaos.outage_s = outage(args, sidecar, chaos, load_done)
            gateway.start()
        chaos.done[action] += 1
        log(f"chaos {number + 1}/{len(actions)}: {action} ({time.monotonic() - started:.1f} s)")


def outage(args: argparse.Namespace, sidecar: Service, chaos: Chaos, load_done: threading.Event) -> float:
    """Keeps the gateway away until the sidecar has refused ingest for a full spool for 3 s (or the
    maximum passed, or the load ended); returns how long it lasted."""
    started = time.monotonic()
    full_since: float | None = None
    before = refused_counts(sidecar)
    while time.monotonic() - started < args.outage_max_s and not load_done.is_set():
        time.sleep(0.5)
        now = refused_counts(sidecar)
        full = any(now.get(r, 0) > before.get(r, 0) for r in ("disk_error", "spool_full"))
        if full and full_since is None:
            full_since = time.monotonic()
            chaos.spool_full_seen = True
            log(f"outage: the sidecar's spool is full after {full_since - started:.1f} s ({now})")
        if full_since is not None and time.monotonic() - full_since > 3:
            break
    return time.monotonic() - started


@dataclass
class Worker:
    lane: int
    number: int
    ending: str
    ledger: Path
    big: bool
    returncode: int | None = None


class Fleet:
    """Starts the SDK processes and keeps their records."""

    def __init__(self, args: argparse.Namespace, sidecar_url: str, work: Path) -> None:
        self.args, self.sidecar_url, self.work = args, sidecar_url, work
        self.workers: list[Worker] = []
        self.lock = threading.Lock()
        self.bursts: list[threading.Thread] = []

    def run_worker(self, lane: int, number: int, events: int, ending: str, big: bool) -> None:
        worker = Worker(lane, number, ending, self.work / "ledger" / f"lane{lane}-{number:04d}.txt", big)
        with self.lock:
            self.workers.append(worker)
        argv = [
            sys.executable,
            str(HERE / "ledger_worker.py"),
            "--ledger",
            str(worker.ledger),
            "--sidecar",
            self.sidecar_url,
            "--spool",
            str(self.work / "sdk-spool"),
            "--events",
            str(events),
            "--rate",
            str(self.args.rate / self.args.lanes),
            "--seed",
            str(lane * 100_000 + number),
            "--ending",
            ending,
            *(["--big"] if big else []),
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("WAFERMON_")}
        with open(self.work / "logs" / f"lane{lane}.log", "ab") as out:
            worker.returncode = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT).returncode

    def run_lane(self, lane: int, quota: int) -> None:
        """Starts SDK processes one after another until the lane's quota of events is emitted."""
        rng = random.Random(self.args.seed * 1000 + lane)
        number = 0
        while quota > 0:
            every = self.args.big_every
            big = every > 0 and number % every == every - 1
            events = min(quota, self.args.big_events if big else self.args.events_per_process)
            self.run_worker(lane, number, events, "exit" if rng.random() < 0.25 else "flush", big)
            quota -= events
            number += 1

    def burst(self) -> None:
        """One more process, beside the lanes, that emits --big-events ~60 KB events at once: it
        fills the sidecar's spool disk during the outage whatever the lanes are doing."""
        if self.args.big_events <= 0:
            return
        number = len(self.bursts)
        args = (self.args.lanes, number, self.args.big_events, "flush", True)
        thread = threading.Thread(target=self.run_worker, args=args, daemon=True)
        thread.start()
        self.bursts.append(thread)


def read_ledgers(workers: list[Worker]) -> tuple[dict[Key, Worker], list[dict[str, Any]], int]:
    """Acknowledged keys -> their worker; each worker's #end record; keys recorded twice (a harness bug)."""
    acked: dict[Key, Worker] = {}
    ends = []
    twice = 0
    for worker in workers:
        if not worker.ledger.exists():
            continue
        for line in worker.ledger.read_text().splitlines():
            if line.startswith("#end "):
                end = json.loads(line[5:])
                end["worker"] = worker.ledger.name
                ends.append(end)
                continue
            entity_id, seq, _kind = line.split()
            key = (entity_id, int(seq))
            twice += key in acked
            acked[key] = worker
    return acked, ends, twice


def drain_sdk_spool(sidecar_url: str, spool: Path, timeout: float) -> dict[str, Any]:
    """One more SDK process on the shared spool: adopts the slots of processes that ended with
    events spooled and replays them; returns its counters once its spool is empty."""
    code = """
import json, sys, time, wafermon
client = wafermon.Client(mode="sidecar", sidecar={"url": sys.argv[1]}, spool={"path": sys.argv[2], "max_size_mb": 1024})
deadline = time.monotonic() + float(sys.argv[3])
while True:
    try:
        client.flush(5)
    except wafermon.WafermonTimeoutError:
        pass
    stats = client.stats()
    if (stats["spool_pending"] == 0 and stats["queue_depth"] == 0) or time.monotonic() > deadline:
        break
    time.sleep(0.5)
print(json.dumps(stats))
client.close(5)
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAFERMON_")}
    done = subprocess.run(
        [sys.executable, "-c", code, sidecar_url, str(spool), str(timeout)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout + 60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the drain process failed: {done.stderr}")
    stats: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return stats


def stored_rows(store: str, sqlite_path: Path, dsn: str) -> list[tuple[str, int, str]]:
    """(entity_id, seq, event_id) of every row of the gateway's events table."""
    if store == "sqlite":
        with contextlib.closing(sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)) as db:
            return [(e, int(s), i) for e, s, i in db.execute("SELECT entity_id, seq, event_id FROM events")]

    async def fetch() -> list[tuple[str, int, str]]:
        conn = await asyncpg.connect(dsn)
        try:
            rows = await conn.fetch("SELECT entity_id::text, seq, event_id::text FROM events")
            return [(r[0], int(r[1]), r[2]) for r in rows]
        finally:
            await conn.close()

    return asyncio.run(fetch())


def trace_lost(lost: list[Key], acked: dict[Key, Worker], work: Path) -> None:
    """Where did the lost events go? Prints counts per finding and the first examples."""
    witness_keys: set[Key] = set()
    for path in (work / "witness").glob("*.jsonl"):
        for line in path.read_bytes().splitlines():
            with contextlib.suppress(ValueError, KeyError):
                event = json.loads(line)
                witness_keys.add((event["entity_id"], int(event["seq"])))
    dead: dict[Key, str] = {}
    for path in [*work.glob("sdk-spool/dead-letter.jsonl*"), *work.glob("sidecar-spool/deadletter/*.jsonl*")]:
        for line in path.read_bytes().splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                record = json.loads(line)
                event = record["event"]
                if isinstance(event, str):
                    event = json.loads(event)
                dead[(event["entity_id"], int(event["seq"]))] = f"{path.name}: {str(record.get('reason'))[:120]}"
    spool_bytes = b"".join(p.read_bytes() for p in work.glob("sdk-spool/**/*.wms"))
    places: collections.Counter[str] = collections.Counter()
    examples: list[str] = []
    for key in lost:
        worker = acked[key]
        where = (
            "in the sidecar's witness backend (lost between sidecar and gateway)"
            if key in witness_keys
            else "not in the witness backend (lost before or in the sidecar)"
        )
        if key in dead:
            where = "dead-lettered: " + dead[key]
        elif key[0].encode() in spool_bytes:
            where += "; still in the SDK spool"
        kind = f"SDK process ending: {worker.ending}{', big events' if worker.big else ''}"
        places[f"{where}; {kind}"] += 1
        if len(examples) < 10:
            examples.append(f"  {key[0]} seq {key[1]} ({worker.ledger.name}, {kind}): {where}")
    log("lost events, by where they were last seen:")
    for where, count in places.most_common():
        print(f"  {count:8d}  {where}")
    print("\n".join(examples))
    (work / "lost.txt").write_text("".join(f"{k[0]} {k[1]} {acked[k].ledger.name}\n" for k in lost))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="events emitted in all (at least)")
    parser.add_argument("--kills", type=int, default=5, help="kill -9 of the sidecar, and as many of the gateway")
    parser.add_argument("--freezes", type=int, default=2, help="SIGSTOP of the sidecar for 2-8 s, then SIGCONT")
    parser.add_argument("--store", choices=["sqlite", "pg"], default="sqlite")
    parser.add_argument("--pg-restarts", type=int, default=3, help="PostgreSQL restarts (--store pg)")
    parser.add_argument("--lanes", type=int, default=4, help="SDK processes running at once")
    parser.add_argument("--events-per-process", type=int, default=1000)
    parser.add_argument("--big-every", type=int, default=8, help="every Nth process of a lane is big (0: none)")
    parser.add_argument("--big-events", type=int, default=600, help="events of a big process (~60 KB each)")
    parser.add_argument("--rate", type=float, default=250, help="events/s emitted by all lanes together")
    parser.add_argument(
        "--spool-mb",
        type=float,
        default=24,
        help="the sidecar's spool disk (tmpfs) in MiB; above the largest request (16 MiB), which could never fit",
    )
    parser.add_argument("--outage-max-s", type=float, default=30, help="longest gateway outage")
    parser.add_argument("--drain-timeout", type=float, default=180, help="bound on the final drain, seconds")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: a temporary directory)")
    args = parser.parse_args()
    # Stopped from outside (SIGTERM, or SIGINT, which a background job ignores otherwise): unwind
    # through the finally blocks, so the services stop and the tmpfs is unmounted.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda n, _f: sys.exit(128 + n))

    work = args.workdir or Path(tempfile.mkdtemp(prefix="wafermon-ledger-"))
    work.mkdir(parents=True, exist_ok=True)
    for sub in ("ledger", "logs", "sdk-spool"):
        (work / sub).mkdir()
    duration = args.events / args.rate
    log(
        f"ledger run: {args.events} events at {args.rate:.0f}/s (~{duration:.0f} s of load) in {args.lanes} lanes, "
        f"{args.kills} kills each of sidecar and gateway, store {args.store}, seed {args.seed}, in {work}"
    )
    started = time.monotonic()
    pg: Postgres | None = None
    services: list[Service] = []
    failed = True
    with tmpfs(work / "sidecar-spool", args.spool_mb) as mounted:
        try:
            dsn = ""
            if args.store == "pg":
                pg = Postgres(work / "pg")
                pg.init()
                dsn = pg.dsn
            gateway_port, sidecar_port = free_port(), free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("WAFERMON_")}
            gateway_env = env | {
                "WAFERMON_GATEWAY_SQLITE_PATH": str(work / "gateway.db"),
                "WAFERMON_GATEWAY_LOG_LEVEL": "warning",
                "WAFERMON_DATABASE_URL": dsn,
            }
            gateway = Service(
                "gateway",
                [str(BIN / "wafermon-gateway"), "--port", str(gateway_port)],
                gateway_env,
                gateway_port,
                work / "logs" / "gateway.log",
            )
            spool: dict[str, Any] = {"path": str(work / "sidecar-spool"), "segment_size_mb": 0.25}
            # On the tmpfs the disk fills first (ENOSPC); without it the spool's own bound does.
            spool["max_size_mb"] = 64 if mounted else args.spool_mb
            spool_kind = (
                f"a {args.spool_mb:g} MiB tmpfs (disk full: ENOSPC)"
                if mounted
                else (f"spool.max_size_mb={args.spool_mb:g} (not root: the spool's bound, not a full disk)")
            )
            sidecar_config = {
                "ingest": {"port": sidecar_port},
                "spool": spool,
                # Quicker retries than production, so the drain after each fault does not wait on
                # back-off; what is promised does not depend on them.
                "delivery": {
                    "backoff_initial_s": 0.1,
                    "backoff_max_s": 2,
                    "breaker_reset_s": 1,
                    "breaker_max_reset_s": 4,
                    "cursor_sync_interval_s": 0.2,
                },
                "log_level": "WARNING",
                "backends": [
                    {"type": "managed_api", "name": "gateway", "config": {"url": gateway.url, "timeout": 10}},
                    {"type": "filesystem", "name": "witness", "config": {"path": str(work / "witness")}},
                ],
            }
            (work / "sidecar.json").write_text(json.dumps(sidecar_config))
            sidecar = Service(
                "sidecar",
                [str(BIN / "wafermon-sidecar"), "--config", str(work / "sidecar.json")],
                env,
                sidecar_port,
                work / "logs" / "sidecar.log",
            )
            services = [sidecar, gateway]
            gateway.start()
            sidecar.start()
            log(f"gateway {gateway.url} ({args.store}), sidecar {sidecar.url}, sidecar spool on {spool_kind}")

            fleet = Fleet(args, sidecar.url, work)
            workers = fleet.workers
            lanes = []
            for lane in range(args.lanes):
                quota = args.events // args.lanes + (lane < args.events % args.lanes)
                lanes.append(threading.Thread(target=fleet.run_lane, daemon=True, args=(lane, quota)))
            load_done = threading.Event()
            chaos = Chaos()
            for thread in lanes:
                thread.start()
            chaos_error: list[BaseException] = []

            def chaos_main() -> None:
                try:
                    run_chaos(args, sidecar, gateway, pg, fleet, chaos, load_done, duration)
                except BaseException as exc:  # reported by the main thread
                    chaos_error.append(exc)

            chaos_thread = threading.Thread(target=chaos_main, daemon=True)
            chaos_thread.start()
            for thread in lanes:
                while thread.is_alive():  # a join with a timeout lets the signal handler run
                    thread.join(0.5)
            load_done.set()
            load_s = time.monotonic() - started
            log(f"load done in {load_s:.0f} s: {len(workers)} SDK processes")
            chaos_thread.join()
            for thread in fleet.bursts:
                thread.join()
            if chaos_error:
                raise chaos_error[0]

            # Everything is up again (each fault restores what it broke); drain.
            drain_started = time.monotonic()
            sdk_drain = drain_sdk_spool(sidecar.url, work / "sdk-spool", args.drain_timeout)
            log(f"SDK spool drained: {sdk_drain}")

            def sidecar_drained() -> bool:
                health = sidecar_health(sidecar)
                return health is not None and all(b["lag_events"] == 0 for b in health["backends"].values())

            try:
                remaining = max(10.0, args.drain_timeout - (time.monotonic() - drain_started))
                wait_until(sidecar_drained, remaining, "the sidecar's backends to drain", interval=0.5)
            except TimeoutError as exc:
                log(f"{exc}: {sidecar_health(sidecar)}")
            drain_s = time.monotonic() - drain_started
            chaos.note_refusals(sidecar)
            health = sidecar_health(sidecar) or {}
            rows = stored_rows(args.store, work / "gateway.db", dsn)

            acked, ends, twice = read_ledgers(workers)
            by_key = collections.Counter((e, s) for e, s, _ in rows)
            by_id = collections.Counter(i for _, _, i in rows)
            stored = sum(1 for key in acked if key in by_key)
            lost = [key for key in acked if key not in by_key]
            duplicated = sum(1 for c in by_key.values() if c > 1) + sum(1 for c in by_id.values() if c > 1)
            unexpected = sum(1 for key in by_key if key not in acked)
            bad_workers = [w for w in workers if w.returncode != 0]
            sdk = collections.Counter[str]()
            for end in ends:
                for name in ("emitted", "dropped", "dead_lettered", "spooled", "replayed", "corrupt"):
                    sdk[name] += int(end["stats"][name])
            recorded = sum(int(e["recorded"]) for e in ends)
            flush_timeouts = sum(1 for e in ends if e.get("flush") == "timeout")

            total_s = time.monotonic() - started
            print(
                f"SDK processes: {len(workers)} ({sum(w.ending == 'exit' for w in workers)} ending without flush, "
                f"{sum(w.big for w in workers)} with ~60 KB events), exit status not 0: {len(bad_workers)}, "
                f"flush timeouts: {flush_timeouts}"
            )
            print(
                f"SDK counters (sum at each process's end): {dict(sdk)}; ledger lines: {recorded}; drain process: "
                f"replayed {sdk_drain.get('replayed')}, dropped {sdk_drain.get('dropped')}"
            )
            print(
                f"chaos: {dict(chaos.done)}, gateway outage {chaos.outage_s:.1f} s, sidecar spool full seen: "
                f"{chaos.spool_full_seen}, sidecar refusals by reason: {dict(chaos.refused)}"
            )
            if pg is not None:
                print(f"PostgreSQL restarts: {pg.restarts}")
            for name, backend in health.get("backends", {}).items():
                print(
                    f"sidecar backend {name}: lag {backend['lag_events']}, delivered {backend['delivered_events']} "
                    f"(this incarnation), dead-lettered {backend['dead_lettered_events']}"
                )
            print(f"time: {total_s:.0f} s in all, load {load_s:.0f} s, drain {drain_s:.1f} s; store rows: {len(rows)}")
            problems = []
            if lost:
                trace_lost(lost, acked, work)
            if bad_workers:
                problems.append(f"{len(bad_workers)} SDK processes failed (logs in {work / 'logs'})")
            if twice:
                problems.append(f"{twice} ledger keys recorded twice (harness fault)")
            if sdk["dropped"] or sdk["dead_lettered"] or sdk_drain.get("dropped") or sdk_drain.get("dead_lettered"):
                problems.append("the SDK counted events dropped or dead-lettered")
            if recorded != sdk["emitted"]:
                problems.append(f"ledger lines {recorded} != the SDK's emitted counter {sdk['emitted']}")
            if unexpected:
                problems.append(f"{unexpected} stored events no SDK process acknowledged")
            if chaos.done["kill-sidecar"] < args.kills or chaos.done["kill-gateway"] < args.kills:
                problems.append("fewer kills than asked for")
            for problem in problems:
                print(f"problem: {problem}")
            print(f"ledger: acknowledged={len(acked)} stored={stored} lost={len(lost)} duplicated={duplicated}")
            failed = bool(lost or duplicated or problems)
        finally:
            for service in services:
                service.stop()
            if pg is not None:
                with contextlib.suppress(RuntimeError):
                    pg.stop("fast")
    if failed or args.workdir:
        print(f"working directory kept: {work}", flush=True)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
