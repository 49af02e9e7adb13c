"""managed_api backend against a stand-in gateway process (fake_gateway), and against the real
wafermon gateway when it is installed (skipped otherwise)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import ReceiverProc, SidecarProc, free_port, make_events, wait_until

from wafermon_sidecar.backends.managed_api import endpoint


def test_endpoint_rule() -> None:
    assert endpoint("http://gw:18000") == "http://gw:18000/v1/ingest/managed"
    assert endpoint("http://gw:18000/") == "http://gw:18000/v1/ingest/managed"
    assert endpoint("https://gw/site1/v1/ingest/managed") == "https://gw/site1/v1/ingest/managed"


def test_managed_api_with_fake_gateway_rejections_and_auth(
    sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc], tmp_path: Path
) -> None:
    gateway = receiver("fake_gateway", gateway=True, api_key="k-123")
    base = f"http://127.0.0.1:{gateway.port}"
    sc = sidecar(
        [
            {"type": "managed_api", "name": "gw", "config": {"url": base, "api_key": "k-123"}},
            {"type": "managed_api", "name": "badkey", "config": {"url": base, "api_key": "wrong"}},
        ]
    )
    good = make_events(20)
    refused = make_events(3, metadata={"reject": True})
    assert sc.post(good + refused).status_code == 202
    wait_until(lambda: sc.lag("gw") == 0, 20, "the managed backend to drain")
    assert sorted(gateway.event_ids()) == sorted(e["event_id"] for e in good)
    lines = [json.loads(x) for x in (sc.spool_dir / "deadletter" / "gw.jsonl").read_text().splitlines()]
    assert sorted(x["event"]["event_id"] for x in lines) == sorted(e["event_id"] for e in refused)
    assert all("rejected by the stand-in" in x["reason"] and "(metadata)" in x["reason"] for x in lines)
    status = sc.health()["backends"]
    assert status["gw"]["delivered_events"] == 20 and status["gw"]["dead_lettered_events"] == 3
    # a wrong API key is retried (and shown), never dead-lettered: fixing the key loses nothing
    wait_until(lambda: sc.health()["backends"]["badkey"]["failed_attempts"] >= 2, 10, "auth failures")
    bad = sc.health()["backends"]["badkey"]
    assert "HTTP 401" in bad["last_error"] and bad["lag_events"] == 23 and bad["dead_lettered_events"] == 0


def _gateway_available() -> bool:
    return importlib.util.find_spec("wafermon_gateway") is not None


@pytest.mark.skipif(not _gateway_available(), reason="wafermon_gateway is not installed")
def test_managed_api_end_to_end_with_the_real_gateway(sidecar: Callable[..., SidecarProc], tmp_path: Path) -> None:
    port = free_port()
    exe = shutil.which("wafermon-gateway") or str(Path(sys.executable).with_name("wafermon-gateway"))
    env = {"WAFERMON_GATEWAY_SQLITE_PATH": str(tmp_path / "gw.sqlite3"), "PATH": str(Path(sys.executable).parent)}
    log = open(tmp_path / "gateway.log", "wb")  # noqa: SIM115 - closed below
    gateway = subprocess.Popen([exe, "--port", str(port)], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:

        def up() -> bool:
            if gateway.poll() is not None:
                pytest.skip(f"the gateway does not start here: {(tmp_path / 'gateway.log').read_text()[-500:]}")
            try:
                return httpx.get(f"http://127.0.0.1:{port}/v1/healthz").status_code < 500
            except httpx.TransportError:
                return False

        wait_until(up, 60, "the gateway")
        sc = sidecar([{"type": "managed_api", "name": "gw", "config": {"url": f"http://127.0.0.1:{port}"}}])
        events = make_events(30)
        assert sc.post(events).status_code == 202
        wait_until(lambda: sc.lag("gw") == 0, 30, "delivery to the gateway")
        status = sc.health()["backends"]["gw"]
        assert status["delivered_events"] == 30 and status["dead_lettered_events"] == 0, status
    finally:
        gateway.terminate()
        gateway.wait(20)
        log.close()
