"""Filters, transforms and per-integration health through real sidecar processes and real receivers:
what each backend gets, what its cursor passes as filtered, what is dead-lettered (at the right spool
positions), a transform hook installed through a real `wafermon.transforms` entry point, `enabled:
false`, lag in seconds, and --check-config's errors naming the key."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import SIDECAR_EXE, ReceiverProc, SidecarProc, make_events, read_jsonl_ids, wait_until

HOOK_MODULE = '''
def tag_lots(event):
    """Adds the lot as a top-level field; drops events without one; a lot "BAD" is an error."""
    lot = (event.get("metadata") or {}).get("lot")
    if lot is None:
        return None
    if lot == "BAD":
        raise ValueError("lot BAD is not allowed")
    event["lot"] = lot
    return event
'''


def _mixed(n: int) -> list[dict[str, Any]]:
    """n events, every third one failed (with its error), the others running."""
    events = make_events(n)
    for i, event in enumerate(events):
        if i % 3 == 0:
            event.update(status="failed", event_kind="finished", error={"type": "E", "message": "boom"})
            event.setdefault("metrics", {"duration_s": 1.0})
        else:
            event.update(status="running", event_kind="progress", error=None)
            event.pop("metrics", None)
    return events


def _counts(sc: SidecarProc, name: str) -> dict[str, Any]:
    entry: dict[str, Any] = next(i for i in sc.health()["integrations"] if i["name"] == name)
    return entry


def test_filter_fields_rename_and_filtered_batches(
    sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc], tmp_path: Path
) -> None:
    never = receiver("never")
    hook = receiver("gw", gateway=True)  # refuses events whose metadata.reject is true, by index
    backends = [
        {"type": "filesystem", "name": "all", "config": {"path": str(tmp_path / "all")}},
        {
            "type": "filesystem",
            "name": "failures",
            "config": {"path": str(tmp_path / "failures")},
            "filter": {"status": "failed", "not": {"app": "no-such-app"}},
            "fields": ["event_id", "at", "app.name", "error", "metadata.lot"],
            "rename": {"at": "timestamp", "app.name": "app_name"},
        },
        never.webhook("never", filter={"site_id": "no-such-site"}),
        hook.webhook("picky", filter={"not": {"metadata_has": "skip"}}),
        {"type": "webhook", "name": "off", "enabled": False, "config": {"webhook_url": "http://127.0.0.1:9/"}},
    ]
    sc = sidecar(backends, ingest={"max_batch_size": 7})
    events = _mixed(30)
    for i, event in enumerate(events):
        event["metadata"] = {"lot": f"L{i}"}
        if i % 5 == 1:
            event["metadata"]["skip"] = True
        if i % 4 == 2:
            event["metadata"]["reject"] = True
    assert sc.post(events).status_code == 202
    for name in ("all", "failures", "never", "picky"):
        wait_until(lambda name=name: sc.lag(name) == 0, 30, f"{name} to pass every event")

    failed = [e for e in events if e["status"] == "failed"]
    assert sorted(read_jsonl_ids(tmp_path / "all")) == sorted(e["event_id"] for e in events)
    records = [json.loads(line) for p in sorted((tmp_path / "failures").glob("*.jsonl")) for line in p.open()]
    assert records == [
        {"event_id": e["event_id"], "timestamp": e["at"], "app_name": e["app"]["name"], "error": e["error"],
         "metadata": {"lot": e["metadata"]["lot"]}}
        for e in failed
    ]  # fmt: skip

    assert never.records() == []  # every batch filtered out: the backend was never called
    skipped = [i for i, e in enumerate(events) if "skip" in e["metadata"]]
    refused = [i for i, e in enumerate(events) if "reject" in e["metadata"] and i not in skipped]
    taken = [e["event_id"] for i, e in enumerate(events) if i not in skipped and i not in refused]
    assert sorted(hook.event_ids()) == sorted(taken)
    lines = [json.loads(x) for x in (sc.spool_dir / "deadletter" / "picky.jsonl").read_text().splitlines()]
    assert [line["seq"] for line in lines] == refused  # spool positions, through the filter's gaps
    assert [line["event"] for line in lines] == [events[i] for i in refused]
    assert all("rejected the event" in line["reason"] for line in lines)

    health = sc.health()
    by_name = {i["name"]: i for i in health["integrations"]}
    assert [i["name"] for i in health["integrations"]] == ["all", "failures", "never", "picky", "off"]
    assert (by_name["failures"]["delivered"], by_name["failures"]["filtered"]) == (len(failed), 30 - len(failed))
    assert (by_name["never"]["delivered"], by_name["never"]["filtered"]) == (0, 30)
    assert (by_name["picky"]["delivered"], by_name["picky"]["filtered"]) == (len(taken), len(skipped))
    assert by_name["picky"]["dead_lettered"] == len(refused) and by_name["picky"]["status"] == "degraded"
    assert "dead-lettered" in by_name["picky"]["status_reason"]
    assert by_name["off"] == {**by_name["off"], "enabled": False, "status": "disabled", "lag_events": 0}
    assert health["backends"]["failures"]["filtered_events"] == 30 - len(failed)
    assert not (sc.spool_dir / "cursors" / "off.json").exists()  # a disabled backend holds no cursor

    metrics = sc.client.get("/metrics").text
    for needle in (
        'wafermon_sidecar_events_processed_total{integration="never",status="filtered"} 30.0',
        f'wafermon_sidecar_events_processed_total{{integration="picky",status="dead_lettered"}} {len(refused)}.0',
        f'wafermon_sidecar_events_processed_total{{integration="failures",status="delivered"}} {len(failed)}.0',
        'wafermon_sidecar_integration_status{integration="picky"} 1.0',
        'wafermon_sidecar_integration_enabled{integration="off"} 0.0',
    ):
        assert needle in metrics, needle
    listing = sc.client.get("/v1/integrations").json()
    assert listing["enabled_integrations"] == ["all", "failures", "never", "picky"] and listing["total"] == 5
    assert {d["name"]: d["status"] for d in listing["details"]}["off"] == "disabled"

    sc.stop()  # the filtered events stay passed after a restart: nothing is sent again
    sc.start()
    wait_until(lambda: sc.lag("never") == 0 and sc.lag("failures") == 0, 30, "the restarted sidecar")
    assert _counts(sc, "never")["filtered"] == 0 and never.records() == []


def _install_hook(site: Path) -> None:
    site.mkdir()
    (site / "wafermon_lots.py").write_text(HOOK_MODULE)
    dist = site / "wafermon_lots-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: wafermon-lots\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[wafermon.transforms]\ntag-lots = wafermon_lots:tag_lots\n")


def test_transform_hook_from_an_entry_point(
    sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc], tmp_path: Path
) -> None:
    site = tmp_path / "site"
    _install_hook(site)
    peer = receiver("peer")
    sc = sidecar([peer.webhook("lots", transform="tag-lots", filter={"entity_type": ["job", "subjob"]})], start=False)
    sc.start(env={"PYTHONPATH": str(site)})
    events = make_events(12)
    for i, event in enumerate(events):
        event["metadata"] = {} if i % 4 == 3 else {"lot": "BAD" if i % 4 == 1 else f"L{i}"}
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("lots") == 0, 30, "the hooked backend")
    kept = [e for e in events if e["metadata"].get("lot", "BAD") != "BAD"]
    got = peer.events()
    assert [g["event_id"] for g in got] == [e["event_id"] for e in kept]
    assert all(g["lot"] == g["metadata"]["lot"] for g in got)
    lines = [json.loads(x) for x in (sc.spool_dir / "deadletter" / "lots.jsonl").read_text().splitlines()]
    assert [line["seq"] for line in lines] == [1, 5, 9]
    assert {line["reason"] for line in lines} == {"transform 'tag-lots' raised ValueError: lot BAD is not allowed"}
    assert [line["event"] for line in lines] == [events[i] for i in (1, 5, 9)]  # as spooled, not reshaped
    counts = _counts(sc, "lots")
    assert (counts["delivered"], counts["filtered"], counts["dead_lettered"]) == (6, 3, 3)
    assert counts["last_error"] and "lot BAD" in counts["last_error"]


def test_lag_in_seconds_grows_while_a_backend_is_down_and_survives_a_restart(
    sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc], tmp_path: Path
) -> None:
    peer = receiver("peer", start=False)
    sc = sidecar([peer.webhook("late")], delivery={"health_degraded_lag_s": 1, "health_failing_lag_s": 30})
    assert sc.post(make_events(5)).status_code == 202
    acked = time.time()
    first = wait_until(lambda: (i := _counts(sc, "late"))["lag_seconds"] > 0.2 and i, 10, "lag to show")
    time.sleep(1.5)
    later = _counts(sc, "late")
    assert later["lag_events"] == 5 and later["lag_seconds"] >= first["lag_seconds"] + 1.0
    assert later["status"] in ("degraded", "failing") and later["last_error"] and later["last_error_at"]
    assert sc.health()["status"] == "degraded"
    sc.stop()
    sc.start()  # the age of events found on the spool at start comes from their segment file
    assert _counts(sc, "late")["lag_seconds"] >= time.time() - acked - 0.5
    peer.start()
    wait_until(lambda: sc.lag("late") == 0, 30, "delivery after the peer's return")
    back = _counts(sc, "late")
    assert back["lag_seconds"] == 0 and back["status"] == "healthy" and sc.health()["status"] == "ok"


@pytest.mark.parametrize(
    ("backend", "words"),
    [
        ({"filter": {"status": "faild"}}, "backends[x].filter.status: 'faild' is not one of"),
        ({"filter": {"any": [{"app": 3}]}}, "backends[x].filter.any[0].app: number 3 is not a string"),
        ({"fields": ["at"]}, "backends[x].fields must list event_id"),
        ({"rename": {"event_id": "id"}}, "backends[x].rename.event_id: a rename may not move event_id"),
        ({"transform": "nope"}, "backends[x].transform: no transform 'nope' is installed"),
        ({"type": "managed_api", "config": {"url": "http://127.0.0.1:1"}, "fields": ["event_id"]},
         "backends[x].fields: the managed_api backend 'x' delivers whole v1 events"),
    ],
)  # fmt: skip
def test_check_config_names_the_key(tmp_path: Path, backend: dict[str, Any], words: str) -> None:
    entry = {"type": "filesystem", "name": "x", "config": {"path": str(tmp_path / "out")}, **backend}
    path = tmp_path / "sidecar.json"
    path.write_text(json.dumps({"spool": {"path": str(tmp_path / "spool")}, "backends": [entry]}))
    done = subprocess.run([SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True)
    assert done.returncode == 2 and words in done.stderr, done.stderr
