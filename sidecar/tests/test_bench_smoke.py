"""A tiny run of bench/sidecar_ingest.py, so the benchmark keeps working (the real run is by hand)."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_bench_runs_and_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "sidecar_ingest.py"), "--events", "2000", "--connections", "2"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for needle in ("sidecar ingest", "delivered to filesystem backend", "raw baseline", "ratio ingest/raw baseline"):
        assert needle in done.stdout, done.stdout
    assert "2000 acknowledged" in done.stdout
