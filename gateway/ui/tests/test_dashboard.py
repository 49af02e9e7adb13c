"""The dashboard in headless Chromium against a real gateway and sidecar (processes on free ports).

The browser part is dashboard.mjs (playwright-core driving /usr/bin/chromium); this file starts the
stack, runs it, and checks its report. Screenshots land in WAFERMON_TEST_OUT (default: the test's
tmp dir) under dashboard/.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wafermon_testkit import Service, clean_env, console_script, free_port, sqlite_gateway

HERE = Path(__file__).resolve().parent


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The real gateway (SQLite, stream keep-alive 1 s) and a sidecar delivering to it."""
    sc_port = free_port()
    with sqlite_gateway(tmp_path, stream_keepalive_s="1") as gateway:
        config = tmp_path / "sidecar.yaml"
        config.write_text(
            f"ingest: {{host: 127.0.0.1, port: {sc_port}}}\n"
            f"spool: {{path: {tmp_path / 'spool'}, max_size_mb: 64}}\n"
            f'backends:\n  - {{type: managed_api, name: gateway, config: {{url: "{gateway}"}}}}\n'
        )
        sidecar = f"http://127.0.0.1:{sc_port}"
        argv = [console_script("wafermon-sidecar"), "--config", str(config)]
        with Service(argv, sidecar, tmp_path / "sidecar.log", env=clean_env(), name="the sidecar"):
            yield gateway, sidecar


def test_dashboard_in_headless_chromium(stack: tuple[str, str], tmp_path: Path) -> None:
    gateway, sidecar = stack
    chromium = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists() or shutil.which("node") is None:
        pytest.fail("needs Debian's chromium and node (scripts/bootstrap.sh installs them)")
    if not (HERE.parent / "node_modules" / "playwright-core").exists():
        pytest.fail("run `npm ci --prefix gateway/ui` first (scripts/stages/55-dashboard.sh does)")
    out = Path(os.environ.get("WAFERMON_TEST_OUT", tmp_path)) / "dashboard"
    out.mkdir(parents=True, exist_ok=True)
    lot, site, app = f"browser-lot-{int(time.time())}", "fab7", "dash-test"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAFERMON_")} | {
        "GATEWAY_URL": gateway, "OUT_DIR": str(out), "LOT": lot, "SITE": site, "APP": app, "CHROMIUM": chromium,
        "EMIT": json.dumps([sys.executable, str(HERE / "emit_job.py"), lot, site]),
        "WAFERMON_SIDECAR_URL": sidecar, "WAFERMON_APP_NAME": app, "WAFERMON_APP_VERSION": "1.0",
        "WAFERMON_SPOOL_DIR": str(tmp_path / "client-spool"), "WAFERMON_FLUSH_INTERVAL": "0.05",
    }  # fmt: skip
    run = subprocess.run(["node", str(HERE / "dashboard.mjs")], env=env, capture_output=True, text=True, timeout=170)
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    print(json.dumps(report, indent=1))
    assert run.returncode == 0, run.stdout + run.stderr
    assert report.get("ok") is True
    assert report["timings"]["live_appear_ms"] <= 2000
    assert sorted(report["screenshots"]) == sorted(
        ["overview.png", "live.png", "job.png", "jobs.png", "overview-alerts.png", "history.png", "overview-wall.png"]
    )
    assert all(v == [] for v in report["axe"].values()) and report["console_errors"] == []
