"""The xray backend against moto's X-Ray (an AWS protocol emulator, not AWS; started once per
session): jobs as segments and sub-jobs as subsegments read back field by field, a replay sending
the same documents, the emulator stopped mid-stream, a document too large dead-lettered alone."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aws_helpers import trace_documents
from sidecar_tests_conftest import SIDECAR_EXE, SidecarProc, wait_until
from stage_fixtures import ride_out_outage

from wafermon_sidecar.backends.xray import segment_id, to_document, trace_id
from wafermon_testkit.events import job_story
from wafermon_testkit.moto_server import MotoServer


def uuid7(moment: datetime) -> str:
    """A UUIDv7 for `moment` (the job ids the SDKs make)."""
    ms = int(moment.timestamp() * 1000)
    value = (ms << 80) | (0x7 << 76) | (uuid.uuid4().int & ((1 << 76) - 1))
    value = (value & ~(0xC << 60)) | (0x8 << 60)  # the RFC 4122 variant
    return str(uuid.UUID(int=value))


def stories(n: int = 3, **common: Any) -> list[dict[str, Any]]:
    start = datetime.now(UTC) - timedelta(minutes=10)
    events = []
    for i in range(n):
        moment = start + timedelta(seconds=i)
        events += job_story(
            uuid7(moment), start=moment, subjobs=2, outcome="failed" if i == 1 else "succeeded", **common
        )
    return events


def xray_backend(moto: MotoServer, name: str = "traces", **extra: Any) -> dict[str, Any]:
    return {"type": "xray", "name": name, "config": {"endpoint_url": moto.url, **extra}}


def test_xray_against_moto_emulator_jobs_and_subjobs_read_back_field_by_field(
    sidecar: Callable[..., SidecarProc], moto: MotoServer
) -> None:
    events = stories()
    traced = job_story(subjobs=1)  # a job carrying its W3C trace: that trace id is kept
    w3c = {"trace_id": uuid.uuid4().hex, "span_id": uuid.uuid4().hex[:16]}
    for e in traced:
        e["trace"] = w3c
    events += traced
    sc = sidecar([xray_backend(moto)])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("traces") == 0, 60, "delivery to X-Ray")
    assert sc.health()["backends"]["traces"]["state"] == "ok"
    traces = sorted({trace_id(e) for e in events})
    assert f"1-{w3c['trace_id'][:8]}-{w3c['trace_id'][8:]}" in traces
    stored = [json.loads(d) for d in trace_documents(moto, traces)]
    finished = {e["entity_id"]: e for e in events if e["event_kind"] == "finished"}
    complete = {d["id"]: d for d in stored if "end_time" in d}
    assert set(complete) == {segment_id(i) for i in finished}
    for entity, e in finished.items():
        d = complete[segment_id(entity)]
        assert d == to_document(e)
        assert d["trace_id"] == trace_id(e) and d["end_time"] == datetime.fromisoformat(e["at"]).timestamp()
        assert d["start_time"] == pytest.approx(d["end_time"] - e["metrics"]["duration_s"])
        assert d["annotations"]["site_id"] == e["site_id"] and d["annotations"]["status"] == e["status"]
        if e["entity_type"] == "job":
            assert "type" not in d and d["name"] == e["app"]["name"]
            # the trace's time part is the job id's (a UUIDv7) creation second, or the W3C trace's
        else:
            assert d["type"] == "subsegment" and d["parent_id"] == segment_id(e["parent_id"])
            assert d["trace_id"] == trace_id(finished[e["parent_id"]])  # in its job's trace
        if e["status"] == "failed":
            assert d["fault"] is True
            assert d["cause"]["exceptions"][0]["message"] == e["error"]["message"]
        else:
            assert "fault" not in d
    started = [d for d in stored if d.get("in_progress")]
    assert {d["id"] for d in started} <= set(complete)  # each start has its completion
    job = next(e for e in events if e["entity_type"] == "job")
    assert trace_id(job)[2:10] == f"{int(uuid.UUID(job['entity_id']).int >> 80) // 1000:08x}"


def test_xray_against_moto_emulator_replay_sends_the_same_documents(
    sidecar: Callable[..., SidecarProc], moto: MotoServer
) -> None:
    events = stories(4)
    sc = sidecar([{**xray_backend(moto), "max_batch_size": 5}])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("traces") == 0, 60, "the first delivery")
    traces = sorted({trace_id(e) for e in events})
    first = trace_documents(moto, traces)
    assert sc.stop() == 0
    (sc.spool_dir / "cursors" / "traces.json").unlink()
    config = json.loads(sc.config_path.read_text())
    config["backends"][0]["max_batch_size"] = 11
    sc.config_path.write_text(json.dumps(config))
    sc.start()
    wait_until(lambda: sc.health()["backends"]["traces"]["delivered_events"] >= len(events), 60, "the replay")
    # X-Ray keeps the latest copy of each segment id; moto keeps every copy, so what the replay sent
    # shows: every complete document byte for byte as before, and no new id. (An in-progress copy
    # the first run left out, its completion being in the same batch, may now be sent before it.)
    after = trace_documents(moto, traces)
    complete_before = {d for d in first if "end_time" in json.loads(d)}
    assert {d for d in after if "end_time" in json.loads(d)} == complete_before
    assert {json.loads(d)["id"] for d in after} == {json.loads(d)["id"] for d in first}
    new = [json.loads(d) for d in set(after) - set(first)]
    assert all(d.get("in_progress") is True for d in new)


def test_xray_against_moto_emulator_stopped_mid_stream_lags_alone_then_everything_arrives(
    sidecar: Callable[..., SidecarProc], moto: MotoServer, tmp_path: Path
) -> None:
    sc = sidecar(
        [
            {"type": "filesystem", "name": "files", "config": {"path": str(tmp_path / "files")}},
            xray_backend(moto, timeout=3, max_attempts=1),
        ],
        ingest={"max_batch_size": 100},
    )
    outage = ride_out_outage(
        sc, "traces", tmp_path / "files", moto.stop, moto.start, stories=lambda: stories(5), chunks=1
    )
    assert "X-Ray" in outage.error
    second = outage.second
    stored = {json.loads(d)["id"] for d in trace_documents(moto, sorted({trace_id(e) for e in second}))}
    assert stored == {segment_id(e["entity_id"]) for e in second if e["event_kind"] in ("started", "finished")}


def test_xray_against_moto_emulator_document_too_large_is_dead_lettered_alone(
    sidecar: Callable[..., SidecarProc], moto: MotoServer
) -> None:
    events = stories(2)
    big = next(e for e in events if e["event_kind"] == "finished" and e["entity_type"] == "subjob")
    big["metadata"] = {"notes": "x" * 70_000}
    sc = sidecar([xray_backend(moto)])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("traces") == 0, 60, "delivery past the refused event")
    lines = [json.loads(x) for x in (sc.spool_dir / "deadletter" / "traces.jsonl").read_text().splitlines()]
    assert [x["event"]["event_id"] for x in lines] == [big["event_id"]]
    assert "its segment document is" in lines[0]["reason"] and "X-Ray takes 65536" in lines[0]["reason"]
    stored = [json.loads(d) for d in trace_documents(moto, sorted({trace_id(e) for e in events}))]
    finished = {segment_id(e["entity_id"]) for e in events if e["event_kind"] == "finished" and e is not big}
    assert finished == {d["id"] for d in stored if "end_time" in d}


@pytest.mark.parametrize(
    ("change", "needle"),
    [({"endpoint_url": "localhost:4000"}, "config.endpoint_url"), ({"sampling": 1}, "sampling")],
)
def test_xray_bad_config_fails_check_config_naming_the_key(tmp_path: Path, change: dict[str, Any], needle: str) -> None:
    path = tmp_path / "sidecar.json"
    backend = {"type": "xray", "name": "tr", "config": {"region": "eu-west-1", **change}}
    path.write_text(json.dumps({"spool": {"path": str(tmp_path / "spool")}, "backends": [backend]}))
    done = subprocess.run([SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True)
    assert done.returncode != 0 and needle in done.stderr and "tr" in done.stderr, done.stderr
