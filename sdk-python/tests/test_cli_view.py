"""`wafermon jobs`, `wafermon job ID` and `wafermon tail` against a real `wafermon-gateway` process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from wafermon_testkit import free_port, sqlite_gateway

BIN = Path(sys.executable).parent


def _event(kind: str, eid: str, seq: int, when: datetime, key: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schema": "wafermon.event/1", "event_id": str(uuid.uuid4()), "event_kind": kind, "entity_type": "job",
        "entity_id": eid, "parent_id": None, "seq": seq, "at": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "site_id": "fab3", "app": {"name": "cli-app", "version": "1.0"}, "business_key": key, "sub_key": None,
        "status": "running", "metadata": {}, "host": "node-a", "pid": 7, "sdk": {"lang": "python", "version": "0.1.0"},
    }  # fmt: skip
    return body | extra


def _story(key: str, outcome: str, subjobs: int = 0) -> tuple[str, list[dict[str, Any]]]:
    jid, t0 = str(uuid.uuid4()), datetime.now(UTC) - timedelta(seconds=20)
    events = [_event("started", jid, 0, t0, key)]
    for n in range(subjobs):
        sid = str(uuid.uuid4())
        sub = {"entity_type": "subjob", "parent_id": jid, "sub_key": f"wafer-{n}"}
        events.append(_event("started", sid, 0, t0 + timedelta(seconds=1), key, **sub))
        failed = {"status": "failed", "error": {"type": "ValueError", "message": "bad wafer"}} if n == 0 else {}
        end = sub | {"status": "succeeded", "metrics": {"duration_s": 1.0}} | failed
        events.append(_event("finished", sid, 1, t0 + timedelta(seconds=2), key, **end))
    finish: dict[str, Any] = {"status": outcome, "metrics": {"duration_s": 5.0, "cpu_user_s": 1.0, "mem_max_mb": 64.0}}
    if outcome == "failed":
        finish["error"] = {"type": "RuntimeError", "message": "boom"}
    events.append(_event("finished", jid, 1, t0 + timedelta(seconds=5), key, **finish))
    return jid, events


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[str]:
    with sqlite_gateway(tmp_path, stream_keepalive_s="1") as url:
        yield url


def _ingest(url: str, events: list[dict[str, Any]]) -> None:
    request = urllib.request.Request(url + "/v1/ingest/managed", data=json.dumps(events).encode(),
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as r:
        body = json.loads(r.read())
    assert body["accepted"] == len(events), body


def _wafermon(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "wafermon"), *args], capture_output=True, text=True, timeout=60, env=env)


def test_jobs_table_filters_and_json(gateway: str) -> None:
    ok_id, ok = _story("lot-ok", "succeeded")
    bad_id, bad = _story("lot-bad", "failed")
    _ingest(gateway, ok + bad)
    table = _wafermon("jobs", "--gateway", gateway, "--site", "fab3", "--since", "1h")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:5] == ["ID", "APP", "SITE", "KEY", "STATUS"]
    assert ok_id in table.stdout and bad_id in table.stdout
    failed = _wafermon("jobs", "--gateway", gateway, "--status", "failed", "--json")
    assert [j["id"] for j in json.loads(failed.stdout)["items"]] == [bad_id]
    assert json.loads(_wafermon("jobs", "--gateway", gateway, "--app", "nope", "--json").stdout)["items"] == []


def test_job_detail_with_subjobs(gateway: str) -> None:
    jid, events = _story("lot-3", "succeeded", subjobs=3)
    _ingest(gateway, events)
    out = _wafermon("job", jid, "--gateway", gateway)
    assert out.returncode == 0, out.stderr
    assert "status:      succeeded" in out.stdout and "sub-jobs (3):" in out.stdout
    assert "wafer-0  failed" in out.stdout and "ValueError: bad wafer" in out.stdout
    assert len(json.loads(_wafermon("job", jid, "--json", "--gateway", gateway).stdout)["subjobs"]) == 3


def test_tail_follows_the_stream(gateway: str) -> None:
    tail = subprocess.Popen([str(BIN / "wafermon"), "tail", "--json", "--gateway", gateway],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        time.sleep(2)  # connected: the stream starts with changes from now on
        jid, events = _story("lot-live", "succeeded")
        _ingest(gateway, events)
        assert tail.stdout is not None
        line = tail.stdout.readline()
        assert json.loads(line)["id"] == jid
    finally:
        tail.terminate()
        tail.wait(timeout=10)


def test_errors_are_one_line_with_exit_1(gateway: str) -> None:
    out = _wafermon("job", "not-a-uuid", "--gateway", gateway)
    assert out.returncode == 1 and "gateway answered 400" in out.stderr and "job_id" in out.stderr
    out = _wafermon("jobs", "--gateway", f"http://127.0.0.1:{free_port()}")
    assert out.returncode == 1 and "cannot reach the gateway" in out.stderr
    out = _wafermon("jobs", "--gateway", gateway, "--since", "yesterday")
    assert out.returncode == 1 and "since" in out.stderr
