"""A tiny run of bench/file_exports.py, so the benchmark keeps working (the real run is by hand)."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO


def test_the_exports_bench_runs_and_prints_its_figures() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "file_exports.py"), "--events", "1000", "--batch", "100"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "1000 events in batches of 100" in done.stdout, done.stdout
    for needle in (
        "csv ",
        "json (jsonl) ",
        "json (jsonl.gz)",
        "Python csv writing the same rows",
        "ratio",
        "ids read back",
    ):
        assert needle in done.stdout, done.stdout
