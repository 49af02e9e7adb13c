"""The cloudwatch backend against moto's CloudWatch Logs (an AWS protocol emulator, not AWS; started
once per session): a mixed batch read back field by field with its EMF metric lines, the group and
stream created when missing, the documented replay duplicate, the emulator stopped mid-stream, and
an event CloudWatch rejects dead-lettered beside delivered ones."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_helpers import client, cloudwatch_backend, log_stream_messages, recent_mixed_events
from sidecar_tests_conftest import SIDECAR_EXE, SidecarProc, wait_until
from stage_fixtures import ride_out_outage

from wafermon_sidecar.backends.cloudwatch import (
    MAX_REQUEST_BYTES,
    MAX_SPAN_MS,
    emf_line,
    split_requests,
    timestamp_ms,
)
from wafermon_testkit.events import job_story


def new_group() -> str:
    return f"/wafermon/test-{uuid.uuid4().hex[:8]}"


def split(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events, EMF records) of a stream's log events, each with its log timestamp as `_ts`."""
    events, emf = [], []
    for m in messages:
        body = dict(json.loads(m["message"]), _ts=m["timestamp"])
        (emf if "_aws" in body else events).append(body)
    return events, emf


def test_cloudwatch_against_moto_emulator_mixed_batch_reads_back_with_emf_metrics(
    sidecar: Callable[..., SidecarProc], moto: Any
) -> None:
    group = new_group()  # neither the group nor the stream exists: the backend creates both
    events = recent_mixed_events()
    sc = sidecar([cloudwatch_backend(moto, group, retention_days=30)])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("logs") == 0, 60, "delivery to CloudWatch Logs")
    assert sc.health()["backends"]["logs"]["state"] == "ok"
    described = client(moto, "logs").describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [(g["logGroupName"], g.get("retentionInDays")) for g in described] == [(group, 30)]
    messages = log_stream_messages(moto, group, "node-a")
    assert [m["timestamp"] for m in messages] == sorted(m["timestamp"] for m in messages)
    stored, emf = split(messages)
    sent = {e["event_id"]: e for e in events}
    assert sorted(e["event_id"] for e in stored) == sorted(sent)  # each once
    for back in stored:
        e = sent[back["event_id"]]
        assert back["_ts"] == timestamp_ms(e["at"])
        del back["_ts"]
        assert back == e  # the event as sent, every field
    finished = [e for e in events if e["event_kind"] == "finished"]
    assert sorted(r["event_id"] for r in emf) == sorted(e["event_id"] for e in finished)
    for record in emf:
        e = sent[record["event_id"]]
        directive = record["_aws"]["CloudWatchMetrics"][0]
        assert directive["Dimensions"] == [["site_id", "app", "status"]] and directive["Namespace"] == "Wafermon"
        assert (record["site_id"], record["app"], record["status"]) == (e["site_id"], e["app"]["name"], e["status"])
        assert record["failures"] == (1 if e["status"] == "failed" else 0)
        for metric in ("duration_s", "cpu_user_s", "mem_max_mb"):
            assert record.get(metric) == e["metrics"].get(metric)
        assert record["_aws"]["Timestamp"] == record["_ts"] == timestamp_ms(e["at"])
    assert any(r["status"] == "failed" and r["failures"] == 1 for r in emf)


def test_cloudwatch_against_moto_emulator_replay_writes_the_replayed_range_again_and_no_more(
    sidecar: Callable[..., SidecarProc], moto: Any
) -> None:
    group = new_group()
    events = [e for _ in range(5) for e in job_story(subjobs=1)]
    sc = sidecar([{**cloudwatch_backend(moto, group, metrics="off"), "max_batch_size": 7}])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("logs") == 0, 60, "the first delivery")
    assert len(log_stream_messages(moto, group, "node-a")) == len(events)
    assert sc.stop() == 0
    # The documented duplicate: log events have no id, so a replay from an older cursor writes the
    # replayed range again — here the whole spool (the cursor removed), so every event twice, never more.
    (sc.spool_dir / "cursors" / "logs.json").unlink()
    sc.start()
    wait_until(lambda: sc.health()["backends"]["logs"]["delivered_events"] >= len(events), 60, "the replay")
    ids = [json.loads(m["message"])["event_id"] for m in log_stream_messages(moto, group, "node-a")]
    assert sorted(ids) == sorted(e["event_id"] for e in events for _ in range(2))


def test_cloudwatch_against_moto_emulator_stopped_mid_stream_lags_alone_then_everything_arrives(
    sidecar: Callable[..., SidecarProc], moto: Any, tmp_path: Path
) -> None:
    group = new_group()
    sc = sidecar(
        [
            {"type": "filesystem", "name": "files", "config": {"path": str(tmp_path / "files")}},
            cloudwatch_backend(moto, group, timeout=3, max_attempts=1, metrics="off"),
        ],
        ingest={"max_batch_size": 100},
    )
    # moto forgets the group and stream with its memory: the backend creates them again by itself.
    outage = ride_out_outage(sc, "logs", tmp_path / "files", moto.stop, moto.start)
    assert "CloudWatch Logs" in outage.error
    second = outage.second
    ids = [json.loads(m["message"])["event_id"] for m in log_stream_messages(moto, group, "node-a")]
    assert sorted(ids) == sorted(e["event_id"] for e in second)  # each once


def test_cloudwatch_against_moto_emulator_rejected_old_event_is_dead_lettered_alone(
    sidecar: Callable[..., SidecarProc], moto: Any
) -> None:
    group = new_group()
    events = job_story(subjobs=1)
    old = dict(events[1], event_id=str(uuid.uuid4()))
    old["at"] = (datetime.now(UTC) - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    sc = sidecar([cloudwatch_backend(moto, group, metrics="off")])
    assert sc.post([*events[:3], old, *events[3:]]).status_code == 202
    wait_until(lambda: sc.lag("logs") == 0, 60, "delivery past the rejected event")
    assert sc.health()["backends"]["logs"]["dead_lettered_events"] == 1
    lines = [json.loads(x) for x in (sc.spool_dir / "deadletter" / "logs.jsonl").read_text().splitlines()]
    assert [x["event"]["event_id"] for x in lines] == [old["event_id"]]
    assert lines[0]["reason"] == "CloudWatch Logs refused the event: too old (more than 14 days before now)"
    ids = [json.loads(m["message"])["event_id"] for m in log_stream_messages(moto, group, "node-a")]
    assert sorted(ids) == sorted(e["event_id"] for e in events)


def test_cloudwatch_requests_stay_within_count_bytes_and_24_hours() -> None:
    start = 1_770_000_000_000
    items = [(i, {"timestamp": start + i * 3_600_000, "message": "x" * 100}) for i in range(30)]  # 29 h
    requests = split_requests(list(reversed(items)))  # given out of order: sorted first
    assert [p for r in requests for p, _ in r] == list(range(30))
    assert all(r[-1][1]["timestamp"] - r[0][1]["timestamp"] <= MAX_SPAN_MS for r in requests)
    assert len(requests) == 2
    big = [(i, {"timestamp": start, "message": "y" * 200_000}) for i in range(12)]
    requests = split_requests(big)
    assert all(sum(len(e["message"]) + 26 for _, e in r) <= MAX_REQUEST_BYTES for r in requests)
    assert [len(r) for r in requests] == [5, 5, 2]
    many = [(i, {"timestamp": start, "message": "z"}) for i in range(25_000)]
    assert [len(r) for r in split_requests(many)] == [10_000, 10_000, 5_000]
    # Equal times keep spool order (an event before its own EMF line).
    assert emf_line({"event_kind": "progress"}, "N") is None


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"log_group": ""}, "config.log_group"),
        ({"log_stream": "a:b"}, "config.log_stream"),
        ({"retention_days": 2}, "config.retention_days"),
        ({"metrics": "statsd"}, "config.metrics"),
        ({"group": "x"}, "group"),
    ],
)
def test_cloudwatch_bad_config_fails_check_config_naming_the_key(
    tmp_path: Path, change: dict[str, Any], needle: str
) -> None:
    config = {"log_group": "/wafermon/events", "region": "eu-west-1", **change}
    path = tmp_path / "sidecar.json"
    backend = {"type": "cloudwatch", "name": "cw", "config": config}
    path.write_text(json.dumps({"spool": {"path": str(tmp_path / "spool")}, "backends": [backend]}))
    done = subprocess.run([SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True)
    assert done.returncode != 0 and needle in done.stderr and "cw" in done.stderr, done.stderr
