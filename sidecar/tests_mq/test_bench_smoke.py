"""Tiny runs of the rabbitmq and redis benchmarks, so each keeps working (the real runs are by hand):
each starts its own peer, exits 0 and prints its figures."""

from __future__ import annotations

import subprocess
import sys

import pytest
from sidecar_tests_conftest import REPO

# script, its arguments for a tiny run, timeout (s), what its output must say
BENCHES = [
    (
        "rabbitmq_backend.py",
        ["--events", "500", "--batch", "100", "--rounds", "1"],
        300,
        ["500 events in batches of 100", "rabbitmq backend", "aio-pika with confirms", "ratio backend/client",
         "messages in the queues: 501 / 500"],
    ),
    (
        "redis_backend.py",
        ["--events", "1000", "--batch", "100", "--rounds", "1"],
        180,
        ["1000 events in batches of 100", "redis backend (dedup keys)", "redis-py pipeline of XADDs",
         "ratio backend (dedup)/client", "entries in the streams (round 1): 1001 / 1001 / 1000"],
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
