"""The ingest contract over real HTTP against a real `wafermon-sidecar` process."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

import httpx
from conftest import VECTORS, SidecarProc, make_events, read_jsonl_ids, wait_until


def fs_backend(proc_dir: Any) -> list[dict[str, Any]]:
    return [{"type": "filesystem", "name": "files", "config": {"path": str(proc_dir)}}]


def test_batch_all_valid_is_202_and_reaches_the_backend(sidecar: Callable[..., SidecarProc], tmp_path: Any) -> None:
    sc = sidecar(fs_backend(tmp_path / "out"))
    events = make_events(40)
    r = sc.post(events)
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 40, "rejected": []}
    wait_until(lambda: sc.lag("files") == 0, 15, "delivery to files")
    assert sorted(read_jsonl_ids(tmp_path / "out")) == sorted(e["event_id"] for e in events)


def test_ndjson_gzip_and_single_event(sidecar: Callable[..., SidecarProc], tmp_path: Any) -> None:
    sc = sidecar(fs_backend(tmp_path / "out"))
    events = make_events(10)
    ndjson = b"\n".join(json.dumps(e).encode() for e in events) + b"\n"
    r = sc.post(gzip.compress(ndjson), headers={"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"})
    assert (r.status_code, r.json()["accepted"]) == (202, 10), r.text
    one = make_events(1)[0]
    r = sc.post(json.dumps(one, indent=2).encode(), path="/v1/ingest/events")  # pretty-printed on purpose
    assert r.status_code == 202 and r.json() == {"accepted": 1, "rejected": []}
    r = sc.post(make_events(2), path="/v1/ingest/events")
    assert r.status_code == 400 and "one JSON event object" in r.json()["error"]
    wait_until(lambda: sc.lag("files") == 0, 15, "delivery")
    ids = read_jsonl_ids(tmp_path / "out")
    assert sorted(ids) == sorted([e["event_id"] for e in events] + [one["event_id"]])


def test_mixed_batch_is_207_with_index_and_field(sidecar: Callable[..., SidecarProc], tmp_path: Any) -> None:
    sc = sidecar(fs_backend(tmp_path / "out"))
    good = make_events(3)
    bad = [v for v in VECTORS if not v["valid"]][:2]
    body = [good[0], bad[0]["event"], good[1], bad[1]["event"], good[2]]
    r = sc.post(body)
    assert r.status_code == 207, r.text
    reply = r.json()
    assert reply["accepted"] == 3
    assert [(p["index"], p["field"]) for p in reply["rejected"]] == [(1, bad[0]["field"]), (3, bad[1]["field"])]
    assert all(p["message"] for p in reply["rejected"])
    wait_until(lambda: sc.lag("files") == 0, 15, "delivery")
    assert sorted(read_jsonl_ids(tmp_path / "out")) == sorted(e["event_id"] for e in good)


def test_bad_input_is_4xx_naming_the_problem_never_500(sidecar: Callable[..., SidecarProc], tmp_path: Any) -> None:
    sc = sidecar(fs_backend(tmp_path / "out"), ingest={"max_body_bytes": 200_000, "max_events_per_request": 50})
    cases: list[tuple[bytes, dict[str, str], int, str]] = [
        (b"", {}, 400, "empty"),
        (b"[{not json", {}, 400, "not a valid JSON array"),
        (b'{"a": 1}\n{broken', {}, 400, "none of the 2"),
        (b"[]", {}, 400, "no events"),
        (b'[1, "x", null]', {}, 400, "none of the 3"),
        (b"\xff\xfe garbage", {}, 400, ""),
        (b"not gzip at all", {"Content-Encoding": "gzip"}, 400, "gzip"),
        (gzip.compress(b"[]")[:-6], {"Content-Encoding": "gzip"}, 400, "gzip"),
        (b"[]", {"Content-Encoding": "br"}, 415, "Content-Encoding"),
        (b"[" + b"1," * 150_000 + b"1]", {}, 413, "200000"),
        (gzip.compress(b" " * 5_000_000), {"Content-Encoding": "gzip"}, 413, "decompresses"),
        (json.dumps(make_events(60)).encode(), {}, 413, "max_events_per_request"),
    ]
    for body, headers, status, needle in cases:
        r = sc.post(body, headers=headers)
        assert r.status_code == status, (body[:40], r.status_code, r.text)
        error = r.json()["error"]
        assert needle in error, (needle, error)
    # wrong types inside otherwise fine events: 400 with the field named
    event = make_events(1)[0]
    event["seq"] = "seven"
    r = sc.post([event])
    assert r.status_code == 400 and r.json()["rejected"][0]["field"] == "seq"
    # an event over MAX_EVENT_BYTES is rejected alone, with field "event"
    big = make_events(1)[0]
    big["metadata"] = {"blob": "x" * 100_000}
    r = sc.post([big, *make_events(1)])
    assert r.status_code == 207 and r.json()["rejected"][0] == {
        "index": 0,
        "field": "event",
        "message": r.json()["rejected"][0]["message"],
    }
    assert sc.client.get("/v1/healthz").status_code == 200  # still alive and well


def test_invalid_utf8_and_too_deep_items_are_refused_alone(sidecar: Callable[..., SidecarProc], tmp_path: Any) -> None:
    """Each went to the authority and raised there (a 500) before: now a 207 naming the item."""
    sc = sidecar(fs_backend(tmp_path / "out"))
    good = make_events(2)
    utf8 = json.dumps(make_events(1)[0] | {"business_key": "PLACEHOLDER"}).encode().replace(b"PLACEHOLDER", b"\xe9")
    deep = b"[" * 150_000 + b"]" * 150_000
    for bad in (utf8, deep):
        body = b"[" + json.dumps(good[0]).encode() + b"," + bad + b"," + json.dumps(good[1]).encode() + b"]"
        r = sc.post(body)
        assert r.status_code == 207, (bad[:20], r.status_code, r.text)
        assert r.json()["accepted"] == 2 and [p["index"] for p in r.json()["rejected"]] == [1]
    wait_until(lambda: sc.lag("files") == 0, 15, "delivery")
    assert sorted(read_jsonl_ids(tmp_path / "out")) == sorted([e["event_id"] for e in good] * 2)


def test_auth_token(sidecar: Callable[..., SidecarProc], tmp_path: Any) -> None:
    sc = sidecar(fs_backend(tmp_path / "out"), ingest={"auth_token": "${SIDECAR_TEST_TOKEN}"}, start=False)
    sc.token = None
    sc.start(env={"SIDECAR_TEST_TOKEN": "s3cret"})
    events = make_events(2)
    r = sc.post(events)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    r = sc.post(events, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 403
    r = sc.post(events, headers={"Authorization": "Bearer s3cret"})
    assert r.status_code == 202
    assert sc.client.get("/v1/healthz").status_code == 200  # health stays open


def test_refuses_non_loopback_without_token(sidecar: Callable[..., SidecarProc], tmp_path: Any) -> None:
    sc = sidecar(fs_backend(tmp_path / "out"), start=False)
    import subprocess

    from conftest import SIDECAR_EXE

    done = subprocess.run(
        [SIDECAR_EXE, "--config", str(sc.config_path), "--host", "0.0.0.0"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a token" in done.stderr
    env_token = subprocess.run(
        [SIDECAR_EXE, "--config", str(sc.config_path), "--host", "0.0.0.0", "--check-config"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, "WAFERMON_SIDECAR_TOKEN": "t0ken"},
    )
    assert env_token.returncode == 0, env_token.stderr


def test_status_endpoints(sidecar: Callable[..., SidecarProc], tmp_path: Any) -> None:
    backends = [
        *fs_backend(tmp_path / "out"),
        {"type": "webhook", "name": "off", "enabled": False, "config": {"webhook_url": "http://127.0.0.1:9/"}},
    ]
    sc = sidecar(backends)
    assert sc.post(make_events(5)).status_code == 202
    wait_until(lambda: sc.lag("files") == 0, 15, "delivery")
    integrations = sc.client.get("/v1/integrations").json()
    assert integrations["total"] == 2 and integrations["enabled"] == 1
    assert integrations["integrations"] == ["files", "off"] and integrations["enabled_integrations"] == ["files"]
    health = sc.health()
    assert health["status"] == "ok"
    assert health["backends"]["off"]["state"] == "disabled"
    assert health["backends"]["files"]["delivered_events"] == 5
    metrics = sc.client.get("/metrics").text
    for needle in (
        "wafermon_sidecar_events_received_total 5.0",
        "wafermon_sidecar_events_spooled_total 5.0",
        'wafermon_sidecar_events_processed_total{integration="files",status="delivered"} 5.0',
        'wafermon_sidecar_events_processed_total{integration="files",status="filtered"} 0.0',
        'wafermon_sidecar_integration_lag_events{integration="files"} 0.0',
        'wafermon_sidecar_integration_lag_seconds{integration="files"} 0.0',
        'wafermon_sidecar_integration_status{integration="files"} 0.0',
        'wafermon_sidecar_integration_enabled{integration="off"} 0.0',
        "wafermon_sidecar_spool_bytes",
        'wafermon_sidecar_request_duration_seconds_count{route="events:batch"} 1.0',
    ):
        assert needle in metrics, needle
    spec = sc.client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.") and "/v1/ingest/events:batch" in spec["paths"]
    assert set(spec["paths"]["/v1/ingest/events:batch"]["post"]["responses"]) >= {"202", "207", "400", "413", "503"}


def test_unknown_route_and_method_are_json(sidecar: Callable[..., SidecarProc], tmp_path: Any) -> None:
    sc = sidecar(fs_backend(tmp_path / "out"))
    r = sc.client.get("/nope")
    assert r.status_code == 404 and "error" in r.json()
    r = sc.client.get("/v1/ingest/events:batch")
    assert r.status_code == 405 and "error" in r.json()
    assert isinstance(sc.client, httpx.Client)


def test_large_bodies_judged_on_the_validation_thread_give_the_same_answers(
    sidecar: Callable[..., SidecarProc], tmp_path: Any
) -> None:
    sc = sidecar(fs_backend(tmp_path / "out"))
    good = make_events(200)  # ~100 KiB: judged on the validation thread
    r = sc.post(good)
    assert r.status_code == 202 and r.json()["accepted"] == 200
    bad = [v for v in VECTORS if not v["valid"]]
    mixed = make_events(150)
    mixed[7] = bad[0]["event"]
    mixed[99] = bad[5]["event"]
    r = sc.post(mixed)
    assert r.status_code == 207, r.text
    assert [(p["index"], p["field"]) for p in r.json()["rejected"]] == [(7, bad[0]["field"]), (99, bad[5]["field"])]
    r = sc.post(b"[" + json.dumps(make_events(100)).encode()[1:-1] + b",{oops]")
    assert r.status_code == 400 and "not a valid JSON array" in r.json()["error"]
    wait_until(lambda: sc.lag("files") == 0, 20, "delivery")
    assert len(read_jsonl_ids(tmp_path / "out")) == 200 + 148


def _children(pid: int) -> set[int]:
    from pathlib import Path

    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def test_the_removed_validation_workers_key_is_accepted_with_a_warning_naming_it(
    sidecar: Callable[..., SidecarProc], tmp_path: Any
) -> None:
    """ingest.validation_workers (and its variable) once started worker processes; configurations that
    still set it start, warn by name, and validate in the sidecar's own process."""
    in_file = sidecar(fs_backend(tmp_path / "out"), ingest={"validation_workers": 2})
    from_env = sidecar(fs_backend(tmp_path / "out2"), start=False)
    from_env.start(env={"WAFERMON_SIDECAR_VALIDATION_WORKERS": "2"})
    for sc in (in_file, from_env):
        assert sc.proc is not None
        assert _children(sc.proc.pid) == set()
        assert "ingest.validation_workers" in sc.log() and "deprecated" in sc.log(), sc.log()
        r = sc.post(make_events(200))
        assert r.status_code == 202 and r.json()["accepted"] == 200, r.text
    quiet = sidecar(fs_backend(tmp_path / "out3"))
    assert "validation_workers" not in quiet.log()
