#!/usr/bin/env python3
"""One SDK process of the ledger run (bench/ledger.py): emits jobs through the Python SDK to the
sidecar and writes a ledger line for every event the SDK accepted.

    python bench/ledger_worker.py --ledger FILE --sidecar URL --spool DIR --events N --rate R --seed S
                                  [--ending flush|exit]

Ledger file, one line per accepted event: ``<entity_id> <seq> <event_kind>``, written after the SDK
call that emitted it returned without raising (the event is in the core's queue or spool). The core
numbers each entity's events from 0 (started), one per progress/heartbeat, then finished; the worker
counts the same way, so ``(entity_id, seq)`` names one event (the SDK does not expose event_ids).
The last line is ``#end {json}``: how the process ended its delivery and the core's counters then.

``--big``: every event carries ~60 KB of metadata (the SDK's limit is 64 KiB) and the process
emits as fast as it can, as a job that reports large results in a loop does.

``--ending flush``: ``wafermon.flush(60)`` before exit (delivered or fsync'd to the spool).
``--ending exit``: no flush; the interpreter-exit handler delivers or spools the rest within
``exit_flush_timeout`` (docs/python.md, "Interpreter exit").
"""

from __future__ import annotations

import argparse
import json
import random
import time
from typing import IO

import wafermon


class Ledger:
    """Records accepted events; counts each entity's seq as the core does."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out
        self.next_seq: dict[str, int] = {}
        self.count = 0

    def record(self, entity_id: str, kind: str) -> None:
        seq = self.next_seq.get(entity_id, 0)
        self.next_seq[entity_id] = seq + 1
        self.out.write(f"{entity_id} {seq} {kind}\n")
        self.count += 1
        if kind == "finished":
            del self.next_seq[entity_id]


BIG_PAD = 60_000  # with --big, every event's metadata is ~60 KB (the SDK allows 64 KiB)
big = False


def metadata(rng: random.Random, lane: str, n: int) -> dict[str, object]:
    meta: dict[str, object] = {"ledger.lane": lane, "ledger.n": n}
    if big:
        meta["pad"] = "x" * BIG_PAD
    elif rng.random() < 0.05:  # a few larger events, so batches vary in bytes as well as count
        meta["pad"] = "x" * rng.randint(1000, 8000)
    return meta


def run_subjob(job: wafermon.Job, rng: random.Random, ledger: Ledger, lane: str, n: int) -> None:
    sub = job.subjob(f"wafer-{n}", metadata=metadata(rng, lane, n))
    ledger.record(sub.id, "started")
    for step in range(rng.randint(0, 3)):
        if rng.random() < 0.3:
            sub.heartbeat()
            ledger.record(sub.id, "heartbeat")
        else:
            sub.progress((step + 1) / 4, metadata(rng, lane, n), step=f"s{step}")
            ledger.record(sub.id, "progress")
    outcome = rng.random()
    if outcome < 0.85:
        sub.succeed(metadata(rng, lane, n))
    elif outcome < 0.95:
        sub.fail("EtchError", f"chamber {n} out of range", metadata(rng, lane, n))
    else:
        sub.cancel(metadata(rng, lane, n))
    ledger.record(sub.id, "finished")


def run_job(rng: random.Random, ledger: Ledger, lane: str, n: int) -> None:
    """One job: started, sub-jobs, progress, then finished by the `with` block (failed when it raises)."""
    fails = rng.random() < 0.1
    job_id = ""
    try:
        with wafermon.job(f"batch-{lane}-{n}", metadata=metadata(rng, lane, n)) as job:
            job_id = job.id
            ledger.record(job_id, "started")
            subjobs = rng.randint(0, 4)
            for i in range(subjobs):
                run_subjob(job, rng, ledger, lane, i)
                job.progress((i + 1) / (subjobs + 1), metadata(rng, lane, i))
                ledger.record(job_id, "progress")
            if fails:
                raise RuntimeError("recipe rejected")
    except RuntimeError:
        pass
    if job.finished:
        ledger.record(job_id, "finished")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--sidecar", required=True, help="the sidecar's base URL")
    parser.add_argument("--spool", required=True, help="the core's spool directory (shared by all workers)")
    parser.add_argument("--events", type=int, required=True, help="emit at least this many events, then end")
    parser.add_argument("--rate", type=float, required=True, help="events per second this process aims at")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--ending", choices=["flush", "exit"], default="flush")
    parser.add_argument("--big", action="store_true", help="~60 KB metadata on every event, emitted unpaced")
    args = parser.parse_args()
    global big
    big = args.big

    wafermon.configure(
        mode="sidecar",
        sidecar={"url": args.sidecar, "timeout": 5, "retries": 3},
        spool={"path": args.spool, "max_size_mb": 1024},
        app={"name": "ledger", "version": "1", "site_id": "fab1"},
    )
    rng = random.Random(args.seed)
    lane = f"{args.seed}"
    started = time.monotonic()
    with open(args.ledger, "w") as out:
        ledger = Ledger(out)
        n = 0
        while ledger.count < args.events:
            run_job(rng, ledger, lane, n)
            n += 1
            ahead = ledger.count / args.rate - (time.monotonic() - started)
            if ahead > 0 and not big:
                time.sleep(ahead)
        end: dict[str, object] = {"ending": args.ending, "recorded": ledger.count}
        if args.ending == "flush":
            try:
                wafermon.flush(60)
                end["flush"] = "ok"
            except wafermon.WafermonTimeoutError:
                end["flush"] = "timeout"
        end["stats"] = wafermon.stats()
        out.write("#end " + json.dumps(end) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
