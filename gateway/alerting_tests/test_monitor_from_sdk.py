"""A schedule monitor declared in Python code (`wafermon.job(..., monitor={...})`), end to end: the real
SDK in its own process, a real sidecar, a real gateway. The monitor appears in GET /v1/monitors at
the job's first run, goes overdue while the job runs past max_runtime_s, and missed when the next
interval's start (plus grace) passes without a run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from peers import GatewayProcess, SidecarProcess, wait_until

JOB = textwrap.dedent("""
    import sys, time, wafermon
    with wafermon.job("backup-2026-12-01", monitor={"interval_s": 12, "start_grace_s": 1, "max_runtime_s": 2}):
        print("started", flush=True)
        time.sleep(float(sys.argv[1]))
    wafermon.flush(10)
""")


def _monitor(gw: GatewayProcess) -> dict[str, Any] | None:
    found = [m for m in gw.get("/v1/monitors")["monitors"] if m["name"] == "nightly-backup"]
    return found[0] if found else None


def test_monitor_declared_in_python_appears_then_overdue_then_missed(tmp_path: Path) -> None:
    gw = GatewayProcess(tmp_path, {"alerting": {"group_wait_s": 0.2, "evaluate_interval_s": 1}}).start()
    sidecar = SidecarProcess(tmp_path, gw.url)
    job = None
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WAFERMON_")}
        env |= {"WAFERMON_SIDECAR_URL": sidecar.url, "WAFERMON_SPOOL_DIR": str(tmp_path / "client-spool"),
                "WAFERMON_APP_NAME": "nightly-backup", "WAFERMON_APP_VERSION": "1.0"}  # fmt: skip
        job = subprocess.Popen([sys.executable, "-c", JOB, "6"], env=env, stdout=subprocess.PIPE, text=True)
        assert job.stdout is not None and job.stdout.readline().strip() == "started"
        started = time.monotonic()
        monitor = wait_until(lambda: _monitor(gw), 10, "the monitor declared by the job's start")
        assert monitor["origin"] == "code" and monitor["match"]["monitor"] == "nightly-backup"
        assert monitor["schedule"]["interval_s"] == 12 and monitor["max_runtime_s"] == 2
        # Past max_runtime_s while still running: overdue.
        wait_until(lambda: (_monitor(gw) or {}).get("state") == "overdue", 10, "overdue while running")
        assert job.poll() is None, "the job ended before the monitor saw it overdue"
        assert job.wait(30) == 0
        wait_until(lambda: (_monitor(gw) or {}).get("state") == "ok", 10, "ok once the run ended")
        # No run at the next interval (12 s after the start, 1 s grace): missed.
        wait_until(lambda: (_monitor(gw) or {}).get("state") == "missed", 30, "missed")
        assert time.monotonic() - started >= 12 + 1 - 0.5
        keys = {a["alert_key"] for a in gw.get("/v1/alerts")["alerts"]}
        assert {"monitor|nightly-backup|overdue", "monitor|nightly-backup|missed"} <= keys
    finally:
        if job is not None and job.poll() is None:
            job.kill()
            job.wait()
        sidecar.stop()
        gw.stop()
