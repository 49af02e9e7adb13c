"""csv and json export benchmark: events/s through the backends' send_batch (batches of 500 events as
the spool holds them, JSON bytes; each append fdatasync'd, as in delivery) next to Python's own csv /
json modules writing the same rows, already built, with the same fdatasync per 500, in the same run;
the ratio is ours / theirs (the backends also decode, flatten, file by time and de-duplicate).
Also: reading a file's ids back after a restart (records/s) and the de-duplication window's memory.

    .venv/bin/python bench/file_exports.py [--events 50000] [--batch 500]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gzip
import io
import json
import os
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from wafermon_sidecar.backends.base import Batch
from wafermon_sidecar.backends.csv_export import CsvBackend
from wafermon_sidecar.backends.export_record import csv_cells, json_record
from wafermon_sidecar.backends.file_export import FileExportBackend, IdWindow
from wafermon_sidecar.backends.json_export import JsonBackend
from wafermon_testkit.events import job_story


def make_events(n: int) -> list[dict[str, Any]]:
    """n events of jobs with sub-jobs, within one day up to 800000 events (one file per export)."""
    events: list[dict[str, Any]] = []
    start = datetime(2026, 11, 23, 1, tzinfo=UTC)
    while len(events) < n:
        events += job_story(
            start=start + timedelta(milliseconds=100 * len(events)), subjobs=4, metadata={"recipe": "R-17"}
        )
    return events[:n]


def run_backend(backend: FileExportBackend, batches: list[Batch]) -> float:
    async def go() -> float:
        await backend.initialize()
        began = time.perf_counter()
        for batch in batches:
            await backend.send_batch(batch)
        return time.perf_counter() - began

    return asyncio.run(go())


def run_stdlib(path: Path, events: list[dict[str, Any]], batch: int, kind: str) -> float:
    """The floor: Python's csv module (or json.dumps, then gzip for "json.gz") writing the same rows or
    records, built before the clock starts, to one file, fdatasync'd per batch."""
    rows = [csv_cells(e) for e in events] if kind == "csv" else [json_record(e) for e in events]
    began = time.perf_counter()
    with open(path, "wb") as out:
        for i in range(0, len(rows), batch):
            chunk = rows[i : i + batch]
            if kind == "csv":
                text = io.StringIO()
                csv.writer(text, lineterminator="\r\n").writerows(chunk)
                data = text.getvalue().encode()
            else:
                data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in chunk).encode()
            out.write(gzip.compress(data, compresslevel=6) if kind == "json.gz" else data)
            out.flush()
            os.fdatasync(out.fileno())
    return time.perf_counter() - began


def id_bytes(n: int) -> float:
    tracemalloc.start()
    window = IdWindow(n)
    for _ in range(n):
        window.add(str(uuid.uuid4()))
    used, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return used / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    events = make_events(args.events)
    raw = [json.dumps(e).encode() for e in events]
    batches = [Batch(raw[i : i + args.batch], i) for i in range(0, len(raw), args.batch)]
    n = len(events)
    with tempfile.TemporaryDirectory(prefix="wafermon-bench-exports-") as tmp:
        root = Path(tmp)
        print(f"file exports: {n} events in batches of {args.batch}, fdatasync per batch")
        for label, backend, kind in (
            ("csv", CsvBackend("csv", {"output_dir": str(root / "csv")}), "csv"),
            ("json (jsonl)", JsonBackend("json", {"output_dir": str(root / "jsonl")}), "json"),
            ("json (jsonl.gz)", JsonBackend("gz", {"output_dir": str(root / "gz"), "compression": "gzip"}), "json.gz"),
        ):
            ours = run_backend(backend, batches)
            base = run_stdlib(root / f"{label}.stdlib", events, args.batch, kind)
            print(
                f"  {label:16} {n / ours:7.0f} events/s | Python {kind} writing the same rows: "
                f"{n / base:7.0f} events/s | ratio {base / ours:.2f}"
            )
        # a restart: the first append reads the file's ids back
        for label, cls, sub in (("csv", CsvBackend, "csv"), ("json (jsonl.gz)", JsonBackend, "gz")):
            config: dict[str, Any] = {"output_dir": str(root / sub)}
            if sub == "gz":
                config["compression"] = "gzip"
            fresh = cls("again", config)
            (path,) = (root / sub).iterdir()
            size = path.stat().st_size
            began = time.perf_counter()
            fd = os.open(path, os.O_RDONLY)
            try:
                ids = sum(1 for _ in fresh.stored_ids(fd, path))
            finally:
                os.close(fd)
            took = time.perf_counter() - began
            print(
                f"  ids read back after a restart, {label}: {ids / took:.0f} records/s "
                f"({size / took / 1e6:.0f} MB/s of file)"
            )
    print(f"  dedup window memory: {id_bytes(100_000):.0f} bytes per remembered id (100000 ids)")


if __name__ == "__main__":
    main()
