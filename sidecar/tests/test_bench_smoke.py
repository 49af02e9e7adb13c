"""Tiny runs of the sidecar's benchmarks, so each keeps working (the real runs are by hand): each
exits 0 and prints its figures."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO

# script, its arguments for a tiny run, timeout (s), what its output must say
BENCHES = [
    (
        "sidecar_ingest.py",
        ["--events", "2000", "--connections", "2"],
        180,
        ["sidecar ingest", "delivered to filesystem backend", "raw baseline", "ratio ingest/raw baseline",
         "2000 acknowledged"],
    ),
    (
        "loki_push.py",
        ["--events", "1000", "--rounds", "1"],
        180,
        ["1000 events in batches of 500", "loki backend", "plain httpx POST", "ratio backend/httpx"],
    ),
    (
        "file_exports.py",
        ["--events", "1000", "--batch", "100"],
        300,
        ["1000 events in batches of 100", "csv ", "json (jsonl) ", "json (jsonl.gz)",
         "Python csv writing the same rows", "ratio", "ids read back"],
    ),
    (
        "backend_shaping.py",
        ["--events", "2000", "--batch", "500"],
        180,
        ["2000 events in batches of 500", "the pipeline alone", "filter+fields+rename", "hook (Python)",
         "through a sidecar", "ratio 1.00"],
    ),
    (
        "mysql_backend.py",
        ["--events", "1000", "--jobs"],
        300,
        ["1000 events in batches of 500", "mysql backend (+ jobs)", "asyncmy multi-row insert",
         "ratio backend/asyncmy"],
    ),
    (
        "nats_backend.py",
        ["--events", "1000"],
        300,
        ["1000 events in batches of 500", "nats backend", "nats-py js.publish", "ratio backend/nats-py"],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("script", "args", "timeout", "needles"), BENCHES, ids=[b[0] for b in BENCHES])
def test_bench_runs_and_prints_its_figures(script: str, args: list[str], timeout: int, needles: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *args], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for needle in needles:
        assert needle in done.stdout, done.stdout
