"""bench/python_job_overhead.py runs (tiny n): the numbers themselves are for humans."""

from __future__ import annotations

import subprocess
import sys

from conftest import REPO, clean_env


def test_bench_runs() -> None:
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench/python_job_overhead.py"), "--n", "300", "--repeat", "1"],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "with wafermon.job(...), mode direct" in proc.stdout
    assert "otel span start+end" in proc.stdout
