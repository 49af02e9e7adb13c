"""A tiny run of bench/zabbix_backend.py against the session's server, so the benchmark keeps working
(the real runs are by hand and start their own server): it exits 0 and prints its figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from zabbix_peer import ZabbixServer

BENCH = Path(__file__).resolve().parents[2] / "bench" / "zabbix_backend.py"


def test_bench_runs_and_prints_its_figures(zabbix: ZabbixServer) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--server", zabbix.address, "--events", "1000"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for needle in ("1000 events (4 values each) in batches of 500", "zabbix backend", "zabbix_utils Sender", "ratio"):
        assert needle in done.stdout, done.stdout
