"""The zabbix backend against a real Zabbix server 6.0 (started once per session): a mixed batch read
back item by item from the history tables, replays, the server stopped mid-stream, refused items."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sidecar_tests_conftest import SidecarProc, wait_until
from stage_fixtures import ride_out_outage
from zabbix_peer import DOCUMENTED_ITEMS, ZabbixServer

from wafermon_sidecar.backends.base import Batch, PermanentError, TransientError
from wafermon_sidecar.backends.zabbix import ZabbixBackend
from wafermon_sidecar.backends.zabbix_items import ITEM_NAMES, TrapperValue, to_values
from wafermon_testkit import free_port
from wafermon_testkit.events import event, job_story

ALL_ITEMS = frozenset(ITEM_NAMES)


def zabbix_backend(server: ZabbixServer, host: str, **extra: Any) -> dict[str, Any]:
    # the seeds' URL form of the address, although the protocol is plain TCP
    return {
        "type": "zabbix",
        "name": "zbx",
        "config": {"zabbix_server": f"http://{server.address}", "host": host, **extra},
    }


def mixed_events() -> list[dict[str, Any]]:
    """Jobs with sub-jobs, a failed job, unicode and nested metadata, within Zabbix's history period."""
    start = datetime.now(UTC) - timedelta(minutes=10)
    events = job_story(start=start, subjobs=2, metadata={"recipe": "R-17", "lot": {"id": "L-9", "wafers": [1, 2]}})
    events += job_story(start=start + timedelta(seconds=7), outcome="failed", app="gravure-ätz", site_id="fab-β")
    failed_sub = event(
        "finished",
        str(uuid.uuid4()),
        1,
        start + timedelta(seconds=9),
        entity_type="subjob",
        parent_id=str(uuid.uuid4()),
        status="failed",
        metadata={"operator": "Zoë 東京", "deep": {"a": {"b": {"c": 1.5}}}},
    )
    return [*events, failed_sub]


def expected(events: list[dict[str, Any]], host: str) -> dict[str, list[TrapperValue]]:
    by_key: dict[str, list[TrapperValue]] = {}
    for e in events:
        for value in to_values(e, host, "wafer", ALL_ITEMS):
            by_key.setdefault(value.key, []).append(value)
    return by_key


def stored_everything(server: ZabbixServer, host: str, want: dict[str, list[TrapperValue]]) -> bool:
    return all(len(server.history(host, key)) >= len(values) for key, values in want.items())


def test_mixed_batch_reads_back_item_by_item(sidecar: Callable[..., SidecarProc], zabbix: ZabbixServer) -> None:
    events = mixed_events()
    sc = sidecar([zabbix_backend(zabbix, "mixed")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("zbx") == 0, 60, "delivery to Zabbix")
    assert sc.health()["backends"]["zbx"]["state"] == "ok"
    want = expected(events, "mixed")
    wait_until(lambda: stored_everything(zabbix, "mixed", want), 30, "the history syncer to store the values")
    assert set(want) == set(DOCUMENTED_ITEMS)  # every documented item is exercised
    for key, values in want.items():
        rows = zabbix.history("mixed", key)
        assert [(r.clock, r.ns) for r in rows] == sorted((v.clock, v.ns) for v in values), key
    # field by field, from the events themselves
    for e in events:
        entity, moment = e["entity_type"], datetime.fromisoformat(e["at"])
        clock, micros = int(moment.timestamp()), moment.microsecond  # the event's own time, to the microsecond
        rows = {
            key: [r for r in zabbix.history("mixed", key) if r.clock == clock and r.ns // 1000 == micros]
            for key in DOCUMENTED_ITEMS
        }
        if e["event_kind"] == "started":
            assert [r.value for r in rows[f"wafer.{entity}.started"]] == ["1"]
        if e["event_kind"] == "finished":
            m = e["metrics"]
            assert [float(r.value) for r in rows[f"wafer.{entity}.finished"]] == [m["duration_s"]]
            for name in ("cpu_user_s", "cpu_sys_s", "mem_max_mb"):
                assert [float(r.value) for r in rows[f"wafer.{entity}.{name}"]] == [m[name]]
        if e["status"] == "failed":
            assert [r.value for r in rows[f"wafer.{entity}.failed"]] == ["1"]
            (text,) = [json.loads(r.value) for r in rows[f"wafer.{entity}.error"]]
            assert text["event_id"] == e["event_id"] and text["error"] == e["error"]
            assert text["metadata"] == e["metadata"] and text["app"] == e["app"]["name"]
            assert text["site_id"] == e["site_id"] and text["entity_id"] == e["entity_id"]
    failed_text = [json.loads(r.value) for r in zabbix.history("mixed", "wafer.job.error")]
    assert [(t["app"], t["site_id"]) for t in failed_text] == [("gravure-ätz", "fab-β")]
    sub_text = [json.loads(r.value) for r in zabbix.history("mixed", "wafer.subjob.error")]
    assert [t["metadata"]["operator"] for t in sub_text] == ["Zoë 東京"]


def test_replay_leaves_the_history_unchanged(sidecar: Callable[..., SidecarProc], zabbix: ZabbixServer) -> None:
    """Zabbix 6.0's history key (itemid, clock, ns) and our ns from the event: a replay is skipped."""
    events = mixed_events()
    want = expected(events, "replay")
    sc = sidecar([zabbix_backend(zabbix, "replay")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("zbx") == 0, 60, "first delivery")
    wait_until(lambda: stored_everything(zabbix, "replay", want), 30, "the values in history")
    before = {key: zabbix.history("replay", key) for key in DOCUMENTED_ITEMS}
    skipped_before = zabbix.log_path.read_text().count("duplicates")
    assert sc.post(events).status_code == 202  # the same events again (e.g. a cursor replayed after a crash)
    wait_until(lambda: sc.lag("zbx") == 0, 60, "the replay")
    backend = sc.health()["backends"]["zbx"]
    assert backend["state"] == "ok" and backend.get("dead_lettered_events", 0) == 0
    # the server took them again and its history syncer skipped them as duplicates
    wait_until(lambda: zabbix.log_path.read_text().count("duplicates") > skipped_before, 30, "the skipped duplicates")
    assert {key: zabbix.history("replay", key) for key in DOCUMENTED_ITEMS} == before
    assert sum(len(rows) for rows in before.values()) == sum(len(v) for v in want.values())


def test_server_stopped_mid_stream_lags_alone_then_everything_arrives(
    sidecar: Callable[..., SidecarProc], zabbix: ZabbixServer, tmp_path: Path
) -> None:
    sc = sidecar(
        [
            {"type": "filesystem", "name": "files", "config": {"path": str(tmp_path / "files")}},
            zabbix_backend(zabbix, "outage", timeout=3),
        ],
        ingest={"max_batch_size": 100},
    )
    start = datetime.now(UTC) - timedelta(minutes=20)
    start = datetime.now(UTC) - timedelta(minutes=20)
    rounds = iter((0, 60))  # the second story a minute after the first, each job a second apart

    def stories() -> list[dict[str, Any]]:
        offset = next(rounds)
        return [e for i in range(10) for e in job_story(start=start + timedelta(seconds=offset + i), subjobs=2)]

    everything = ride_out_outage(sc, "zbx", tmp_path / "files", zabbix.stop, zabbix.start, stories=stories).everything
    want = expected(everything, "outage")
    wait_until(lambda: stored_everything(zabbix, "outage", want), 30, "the values in history")
    for key, values in want.items():  # each value once
        assert sorted((r.clock, r.ns) for r in zabbix.history("outage", key)) == sorted((v.clock, v.ns) for v in values)


def test_refused_item_is_dead_lettered_and_neighbours_delivered(
    sidecar: Callable[..., SidecarProc], zabbix: ZabbixServer
) -> None:
    """`wafer-partial` has no sub-job items: Zabbix refuses those values; the job's values arrive."""
    events = job_story(start=datetime.now(UTC) - timedelta(minutes=5), subjobs=1)
    sub_ids = {
        e["event_id"] for e in events if e["entity_type"] == "subjob" and e["event_kind"] in ("started", "finished")
    }
    sc = sidecar([zabbix_backend(zabbix, "wafer-partial")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("zbx") == 0, 60, "delivery past the refused items")
    status = sc.health()["backends"]["zbx"]
    assert status["dead_lettered_events"] == len(sub_ids) == 2
    lines = [json.loads(x) for x in (sc.spool_dir / "deadletter" / "zbx.jsonl").read_text().splitlines()]
    assert {x["event"]["event_id"] for x in lines} == sub_ids
    reasons = {x["event"]["event_kind"]: x["reason"] for x in lines}
    assert "'wafer.subjob.started'" in reasons["started"] and "host 'wafer-partial'" in reasons["started"]
    assert "'wafer.subjob.finished'" in reasons["finished"] and "'wafer.subjob.mem_max_mb'" in reasons["finished"]
    want = expected([e for e in events if e["entity_type"] == "job"], "wafer-partial")
    wait_until(lambda: stored_everything(zabbix, "wafer-partial", want), 30, "the job's values in history")
    for key, values in want.items():
        assert [(r.clock, r.ns) for r in zabbix.history("wafer-partial", key)] == [(v.clock, v.ns) for v in values]


def test_non_numeric_metric_is_refused_before_sending_and_neighbours_delivered(zabbix: ZabbixServer) -> None:
    """Zabbix would count text in a numeric item as processed and then drop it (the item turns
    unsupported): the backend refuses such a value itself, naming the field."""
    start = datetime.now(UTC) - timedelta(minutes=3)
    good = job_story(start=start)
    bad = event("finished", str(uuid.uuid4()), 1, start, metrics={"duration_s": "fast"})  # type: ignore[dict-item]
    batch = [good[0], bad, *good[1:]]

    async def deliver() -> PermanentError:
        backend = ZabbixBackend("zbx", zabbix_backend(zabbix, "direct")["config"])
        await backend.initialize()
        try:
            with pytest.raises(PermanentError) as caught:
                await backend.send_batch(Batch([json.dumps(e).encode() for e in batch]))
            return caught.value
        finally:
            await backend.close()

    error = asyncio.run(deliver())
    assert list(error.rejected) == [1]
    assert "metrics.duration_s must be a number" in error.rejected[1]
    want = expected(good, "direct")
    wait_until(lambda: stored_everything(zabbix, "direct", want), 30, "the neighbours in history")
    assert [float(r.value) for r in zabbix.history("direct", "wafer.job.finished")] == [
        good[-1]["metrics"]["duration_s"]
    ]


def test_connection_refused_is_transient() -> None:
    async def deliver() -> None:
        config = {"zabbix_server": f"tcp://127.0.0.1:{free_port()}", "host": "x"}  # nobody listens there
        backend = ZabbixBackend("zbx", config)
        await backend.initialize()
        with pytest.raises(TransientError, match=r"Zabbix server 127\.0\.0\.1"):
            await backend.send_batch(Batch([json.dumps(e).encode() for e in job_story()]))

    asyncio.run(deliver())
