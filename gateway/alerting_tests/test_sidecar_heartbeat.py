"""Sidecars report themselves, end to end with real processes: a real sidecar sends heartbeats to a real
gateway (GET /v1/sidecars lists it); its second backend's destination is stopped, the backlog grows and
ingest_lag fires, then resolves once the destination is back; kill -9 of the sidecar makes
sidecar_silent fire after the configured intervals, and a restart resolves it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from peers import GatewayProcess, HttpReceiver, SidecarProcess, wait_until

from wafermon_testkit.events import job_story

HEARTBEAT_S = 1.0
FAST = {"group_wait_s": 0.2, "evaluate_interval_s": 1, "backoff_initial_s": 0.2, "backoff_max_s": 1.0}


def _events(alerts: HttpReceiver, rule: str) -> list[str]:
    return [body["event"] for _t, body, _h in alerts.received if body["alert"]["rule"] == rule]


def test_heartbeats_ingest_lag_and_sidecar_silent(tmp_path: Path) -> None:
    alerts = HttpReceiver().start()
    destination = HttpReceiver()  # the second backend's destination: down at first
    rules: list[dict[str, Any]] = [
        {"name": "lagging", "kind": "ingest_lag", "params": {"max_events": 3, "backend": "archive"},
         "cooldown_s": 3600, "notify": ["ops"]},
        {"name": "quiet-sidecar", "kind": "sidecar_silent", "params": {"missed_intervals": 3}, "cooldown_s": 3600,
         "notify": ["ops"]},
    ]  # fmt: skip
    notifiers = [{"name": "ops", "type": "webhook", "config": {"url": alerts.url}}]
    gw = GatewayProcess(tmp_path, {"alerting": {**FAST, "notifiers": notifiers, "rules": rules}}).start()
    archive = (
        f'  - {{type: webhook, name: archive, config: {{webhook_url: "{destination.url}", timeout: 2}}}}\n'
        "delivery: {breaker_reset_s: 0.5, breaker_max_reset_s: 1, backoff_initial_s: 0.2, backoff_max_s: 0.5}\n"
    )
    sidecar = SidecarProcess(tmp_path, gw.url, heartbeat_s=HEARTBEAT_S, extra_backends=archive)
    try:
        [seen] = wait_until(lambda: gw.get("/v1/sidecars")["sidecars"], 10, "the first heartbeat")
        assert seen["version"] and seen["host"] and seen["interval_s"] == HEARTBEAT_S
        assert {b["name"] for b in seen["backends"]} == {"gateway", "archive"}
        # Events reach the gateway but not the stopped archive: its backlog grows past the limit.
        story = job_story(outcome="succeeded", progress_steps=3)
        r = httpx.post(sidecar.url + "/v1/ingest/events:batch", json=story, timeout=10)
        assert r.status_code == 202, r.text
        wait_until(lambda: _events(alerts, "lagging") == ["firing"], 15, "ingest_lag to fire")
        [alert] = [b["alert"] for _t, b, _h in alerts.received if b["alert"]["rule"] == "lagging"]
        assert alert["scope"]["backend"] == "archive" and alert["scope"]["host"] == seen["host"]
        archive_report = next(b for b in gw.get("/v1/sidecars")["sidecars"][0]["backends"] if b["name"] == "archive")
        assert archive_report["lag_events"] == len(story) and archive_report["lag_bytes"] > 0
        assert archive_report["oldest_age_s"] is not None and archive_report["last_error"]
        gateway_report = next(b for b in gw.get("/v1/sidecars")["sidecars"][0]["backends"] if b["name"] == "gateway")
        assert gateway_report["lag_events"] == 0 and gateway_report["oldest_age_s"] is None
        # The destination comes back: the backlog drains and the alert resolves.
        destination.start()
        wait_until(lambda: _events(alerts, "lagging") == ["firing", "resolved"], 20, "ingest_lag to resolve")
        assert sum(len(body) for _t, body, _h in destination.received) == len(story)
        # kill -9: no more heartbeats; after 3 intervals (3 s) sidecar_silent fires.
        sidecar.kill9()
        killed = time.monotonic()
        wait_until(lambda: _events(alerts, "quiet-sidecar") == ["firing"], 15, "sidecar_silent to fire")
        assert time.monotonic() - killed >= 3 * HEARTBEAT_S
        assert gw.get("/v1/sidecars")["sidecars"][0]["silent_s"] >= 3 * HEARTBEAT_S
        # Restarted on the same spool: the same sidecar reports again and the alert resolves.
        sidecar.start()
        wait_until(lambda: _events(alerts, "quiet-sidecar") == ["firing", "resolved"], 15, "sidecar_silent to resolve")
        assert [s["sidecar_id"] for s in gw.get("/v1/sidecars")["sidecars"]] == [seen["sidecar_id"]]
    finally:
        sidecar.stop()
        gw.stop()
        destination.stop()
        alerts.stop()
