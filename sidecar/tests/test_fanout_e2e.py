"""Fan-out with real processes: a healthy filesystem backend and webhook receiver keep getting
everything while a second receiver is down; the dead one lags (health shows it), then catches up
once it is back, and every event_id arrives exactly once at each receiver (nothing crashed)."""

from __future__ import annotations

import collections
import csv
import gzip
import json
from collections.abc import Callable
from pathlib import Path

from conftest import ReceiverProc, SidecarProc, make_events, read_jsonl_ids, wait_until


def test_dead_backend_lags_alone_then_catches_up_exactly_once(
    sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc], tmp_path: Path
) -> None:
    alive = receiver("alive", secret="hook-secret")
    down = receiver("down", start=False)  # its port is known, nothing listens yet
    sc = sidecar(
        [
            {"type": "filesystem", "name": "files", "priority": 1, "config": {"path": str(tmp_path / "files")}},
            {
                "type": "webhook",
                "name": "alive",
                "config": {"webhook_url": alive.url, "secret": "hook-secret", "headers": {"X-Site": "fab1"}},
            },
            {"type": "webhook", "name": "down", "config": {"webhook_url": down.url, "timeout": 2}},
        ],
        ingest={"max_batch_size": 100},
    )
    acked: list[str] = []
    for _ in range(12):
        events = make_events(50)
        r = sc.post(events)
        assert r.status_code == 202, r.text
        acked += [e["event_id"] for e in events]

    wait_until(lambda: sc.lag("files") == 0 and sc.lag("alive") == 0, 30, "the healthy backends to drain")
    health = sc.health()
    dead = health["backends"]["down"]
    assert dead["lag_events"] == len(acked)
    assert dead["state"] in ("open", "half_open", "retrying") and dead["last_error"]
    assert "Cannot connect" in dead["last_error"] or "refused" in dead["last_error"].lower()
    assert health["status"] == "degraded"
    assert health["backends"]["files"]["state"] == "ok" and health["backends"]["alive"]["state"] == "ok"
    # the seeds' query: `jq '.integrations[] | select(.status != "healthy")'`
    unhealthy = [i for i in health["integrations"] if i["status"] != "healthy"]
    assert [i["name"] for i in unhealthy] == ["down"], unhealthy
    assert unhealthy[0]["status"] in ("degraded", "failing") and unhealthy[0]["status_reason"]
    assert unhealthy[0]["lag_events"] == len(acked) and unhealthy[0]["lag_seconds"] > 0
    metrics = sc.client.get("/metrics").text
    assert f'wafermon_sidecar_integration_lag_events{{integration="down"}} {float(len(acked))}' in metrics
    assert 'wafermon_sidecar_delivery_attempts_failed_total{integration="down"}' in metrics

    down.start()
    wait_until(lambda: sc.lag("down") == 0, 30, "the revived receiver to catch up")
    assert sc.health()["status"] == "ok"

    for name, ids in (
        ("files", read_jsonl_ids(tmp_path / "files")),
        ("alive", alive.event_ids()),
        ("down", down.event_ids()),
    ):
        counts = collections.Counter(ids)
        assert set(counts) == set(acked), name
        assert max(counts.values()) == 1, f"{name}: duplicates where nothing crashed"
    assert {sig for _, sig in alive.lines()} == {"1"}  # every webhook body carried a valid signature


def test_permanent_rejection_goes_to_dead_letter_and_others_continue(
    sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc], tmp_path: Path
) -> None:
    picky = receiver("picky", mode="reject")
    sc = sidecar(
        [
            {"type": "webhook", "name": "picky", "config": {"webhook_url": picky.url}},
            {"type": "filesystem", "name": "files", "config": {"path": str(tmp_path / "files")}},
        ]
    )
    events = make_events(30)
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("picky") == 0 and sc.lag("files") == 0, 20, "both to move past the batch")
    status = sc.health()["backends"]["picky"]
    assert status["dead_lettered_events"] == 30 and "HTTP 400" in status["last_error"]
    lines = [json.loads(x) for x in (sc.spool_dir / "deadletter" / "picky.jsonl").read_text().splitlines()]
    assert sorted(x["event"]["event_id"] for x in lines) == sorted(e["event_id"] for e in events)
    assert all("HTTP 400" in x["reason"] and x["backend"] == "picky" for x in lines)
    assert sorted(read_jsonl_ids(tmp_path / "files")) == sorted(e["event_id"] for e in events)
    dead_lettered = 'wafermon_sidecar_events_processed_total{integration="picky",status="dead_lettered"} 30.0'
    assert dead_lettered in sc.client.get("/metrics").text


def test_filesystem_csv_gzip_and_safe_names(sidecar: Callable[..., SidecarProc], tmp_path: Path) -> None:
    out = tmp_path / "fs"
    sc = sidecar(
        [
            {
                "type": "filesystem",
                "name": "csvgz",
                "config": {
                    "path": str(out),
                    "format": "csv",
                    "compression": "gzip",
                    "rotation": "hourly",
                    "prefix": "../../escape/me",
                },
            },
            {"type": "filesystem", "name": "plain", "config": {"path": str(out / "plain"), "rotation": "none"}},
        ],
        ingest={"max_batch_size": 7},  # several gzip members per file
    )
    events = make_events(25)
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("csvgz") == 0 and sc.lag("plain") == 0, 20, "delivery")
    files = sorted(out.glob("*.csv.gz"))
    assert len(files) == 1 and files[0].parent == out
    assert files[0].name.startswith("_.._escape_me-")  # "/" and the leading dots are gone
    with gzip.open(files[0], "rt") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["event_id"] for r in rows) == sorted(e["event_id"] for e in events)
    by_id = {r["event_id"]: r for r in rows}
    first = events[0]
    assert by_id[first["event_id"]]["site_id"] == first["site_id"]
    assert json.loads(by_id[first["event_id"]]["metadata"]) == first["metadata"]
    assert [p.name for p in (out / "plain").iterdir()] == ["wafermon-events.jsonl"]


def test_a_backend_added_later_gets_what_the_spool_still_holds(
    sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc], tmp_path: Path
) -> None:
    down = receiver("down", start=False)
    sc = sidecar(
        [
            {"type": "filesystem", "name": "first", "config": {"path": str(tmp_path / "first")}},
            {"type": "webhook", "name": "down", "config": {"webhook_url": down.url}},  # holds the spool
        ]
    )
    events = make_events(40)
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("first") == 0, 20, "the first backend")
    assert sc.stop() == 0
    config = json.loads(sc.config_path.read_text())
    config["backends"].append({"type": "filesystem", "name": "later", "config": {"path": str(tmp_path / "later")}})
    sc.config_path.write_text(json.dumps(config))
    sc.start()
    wait_until(lambda: sc.lag("later") == 0, 20, "the new backend to catch up")
    assert sorted(read_jsonl_ids(tmp_path / "later")) == sorted(e["event_id"] for e in events)
    assert len(read_jsonl_ids(tmp_path / "first")) == 40  # not sent again to the first one
