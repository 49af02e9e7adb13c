"""The dashboard in headless Chromium against a real gateway and sidecar (processes on free ports).

The browser part is dashboard.mjs (playwright-core driving /usr/bin/chromium); this file starts the
stack, runs it, and checks its report. Screenshots land in WAFERMON_TEST_OUT (default: the test's
tmp dir) under dashboard/.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    pytest.fail(f"{url} did not come up: {log.read_text()}")


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAFERMON_")}
    gw_port, sc_port = free_port(), free_port()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        gw_log = tmp_path / "gateway.log"
        gw = subprocess.Popen(
            [str(BIN / "wafermon-gateway"), "--port", str(gw_port)],
            env=env | {"WAFERMON_GATEWAY_SQLITE_PATH": str(tmp_path / "gw.db"),
                       "WAFERMON_GATEWAY_STREAM_KEEPALIVE_S": "1"},
            stdout=gw_log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(gw)
        gateway = f"http://127.0.0.1:{gw_port}"
        wait_http(gateway + "/v1/healthz", gw, gw_log)
        config = tmp_path / "sidecar.yaml"
        config.write_text(
            f"ingest: {{host: 127.0.0.1, port: {sc_port}}}\n"
            f"spool: {{path: {tmp_path / 'spool'}, max_size_mb: 64}}\n"
            f'backends:\n  - {{type: managed_api, name: gateway, config: {{url: "{gateway}"}}}}\n'
        )
        sc_log = tmp_path / "sidecar.log"
        sc = subprocess.Popen(
            [str(BIN / "wafermon-sidecar"), "--config", str(config)], env=env,
            stdout=sc_log.open("wb"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        procs.append(sc)
        sidecar = f"http://127.0.0.1:{sc_port}"
        wait_http(sidecar + "/v1/healthz", sc, sc_log)
        yield gateway, sidecar
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


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
