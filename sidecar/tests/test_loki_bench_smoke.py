"""A tiny run of bench/loki_push.py, so the benchmark keeps working (the real run is by hand)."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_loki_bench_runs_and_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "loki_push.py"), "--events", "1000", "--rounds", "1"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for needle in ("1000 events in batches of 500", "loki backend", "plain httpx POST", "ratio backend/httpx"):
        assert needle in done.stdout, done.stdout
