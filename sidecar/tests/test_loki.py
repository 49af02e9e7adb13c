"""The loki backend through a real sidecar process against the Loki PROTOCOL DOUBLE
(wafermon_testkit.loki_double_server, its own process, real HTTP): Grafana Loki is AGPL and cannot be
a dependency, so no real Loki runs here. The double is strict about the documented push format and
stores what it takes; these tests read it back."""

from __future__ import annotations

import calendar
import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
import rfc8785
import yaml
from conftest import REPO, SIDECAR_EXE, SidecarProc, read_jsonl_ids, wait_until

from wafermon_sidecar.backends.loki import LokiConfig
from wafermon_testkit.events import event, job_story
from wafermon_testkit.loki_double import LokiDouble


@pytest.fixture
def double(tmp_path: Path) -> Iterator[Callable[..., LokiDouble]]:
    started: list[LokiDouble] = []

    def factory(**options: Any) -> LokiDouble:
        loki = LokiDouble(tmp_path / f"loki{len(started)}.jsonl", **options)
        started.append(loki)
        loki.start()
        return loki

    yield factory
    for loki in started:
        loki.stop()


def loki_backend(loki: LokiDouble, name: str = "loki", **config: Any) -> dict[str, Any]:
    return {"type": "loki", "name": name, "config": {"url": loki.url, **config}}


def mixed_batch() -> list[dict[str, Any]]:
    """Jobs, sub-jobs, a failure, unicode and nested metadata, floats in several forms."""
    start = datetime.now(UTC) - timedelta(minutes=5)
    events = job_story(start=start, subjobs=2, outcome="succeeded", app="etch-line")
    events += job_story(start=start + timedelta(seconds=1), outcome="failed", site_id="fab2", app="litho")
    events.append(
        event(
            "progress",
            events[0]["entity_id"],
            9,
            start + timedelta(seconds=2),
            progress=0.25,
            metadata={"wafer": "W-äöü-晶圆", "emoji": "🔬", "nested": {"a": [1, 2.0, {"b": None}], "x": 1e-7}},
        )
    )
    return events


def expected_ns(at: str) -> int:
    """An independent reading of `at`: whole seconds by calendar.timegm, microseconds by hand."""
    seconds, micros = at.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(seconds, "%Y-%m-%dT%H:%M:%S")) * 10**9 + int(micros) * 1000


def test_loki_against_protocol_double_mixed_batch_read_back_field_by_field(
    sidecar: Callable[..., SidecarProc], double: Callable[..., LokiDouble]
) -> None:
    loki = double(tenant_required=True)
    sc = sidecar([loki_backend(loki, tenant="fab-team", compression="gzip", external_labels={"job": "wafermon"})])
    events = mixed_batch()
    assert sc.post(events).status_code == 202
    entries = loki.wait_for(len(events))
    wait_until(lambda: sc.lag("loki") == 0, 60, "the loki backend to catch up")
    assert len(entries) == len(events)
    by_id = {json.loads(e["line"])["event_id"]: e for e in entries}
    assert set(by_id) == {e["event_id"] for e in events}
    for sent in events:
        stored = by_id[sent["event_id"]]
        assert stored["tenant"] == "fab-team"
        assert stored["stream"] == {
            "site": sent["site_id"],
            "app": sent["app"]["name"],
            "entity_type": sent["entity_type"],
            "status": sent["status"],
            "job": "wafermon",
        }
        assert int(stored["ts"]) == expected_ns(sent["at"])
        assert stored["line"] == rfc8785.dumps(sent).decode()  # canonical JSON (RFC 8785)
        line = json.loads(stored["line"])
        assert set(line) == set(sent)
        for field, value in sent.items():
            assert line[field] == value, field
    requests = loki.requests()
    assert requests and all(r["gzip"] and r["tenant"] == "fab-team" and r["status"] == 204 for r in requests)
    assert sc.health()["backends"]["loki"]["dead_lettered_events"] == 0


def test_loki_against_protocol_double_replay_leaves_the_store_unchanged(
    sidecar: Callable[..., SidecarProc], double: Callable[..., LokiDouble]
) -> None:
    loki = double()
    sc = sidecar([loki_backend(loki)])
    events = mixed_batch()
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("loki") == 0 and len(loki.entries()) == len(events), 60, "the first delivery")
    first = loki.entries()
    # The same events again (a producer's retry), in another order and in two requests: new spool
    # records, the same stream, timestamp and line for each, so Loki keeps one of each.
    assert sc.post(events[::-1][:5]).status_code == 202
    assert sc.post(events[::-1][5:]).status_code == 202
    wait_until(lambda: sc.lag("loki") == 0, 60, "the replay")
    pushed = sum(r["entries"] for r in loki.requests())
    assert pushed >= 2 * len(events)  # the replay did reach the double
    assert loki.entries() == first
    # A replay from the spool: the cursor lost (as after a crash before it was persisted), so the
    # restarted sidecar sends everything still on its spool again.
    assert sc.stop() == 0
    (sc.spool_dir / "cursors" / "loki.json").unlink()
    sc.start()
    wait_until(lambda: sum(r["entries"] for r in loki.requests()) >= pushed + 2 * len(events), 60, "the spool replay")
    wait_until(lambda: sc.lag("loki") == 0, 60, "the spool replay to settle")
    assert loki.entries() == first
    assert sc.health()["backends"]["loki"]["dead_lettered_events"] == 0


def test_loki_against_protocol_double_stopped_midstream_others_deliver_then_all_arrive_once(
    sidecar: Callable[..., SidecarProc], double: Callable[..., LokiDouble], tmp_path: Path
) -> None:
    loki = double()
    files = tmp_path / "files"
    sc = sidecar([loki_backend(loki), {"type": "filesystem", "name": "files", "config": {"path": str(files)}}])
    first = mixed_batch()
    assert sc.post(first).status_code == 202
    wait_until(lambda: sc.lag("loki") == 0 and sc.lag("files") == 0, 60, "both backends")
    loki.stop()
    second = [e for _ in range(4) for e in mixed_batch()]
    assert sc.post(second).status_code == 202
    wait_until(lambda: sc.lag("files") == 0, 60, "the filesystem backend while Loki is down")
    assert sorted(read_jsonl_ids(files)) == sorted(e["event_id"] for e in first + second)
    health = wait_until(
        lambda: (h := sc.health()["backends"]["loki"])["lag_events"] == len(second) and h["last_error"] and h,
        60,
        "the loki backend's lag and error",
    )
    assert health["state"] != "ok"
    loki.start()
    wait_until(lambda: sc.lag("loki") == 0, 60, "the loki backend after the double is back")
    ids = [json.loads(e["line"])["event_id"] for e in loki.entries()]
    assert sorted(ids) == sorted(e["event_id"] for e in first + second)  # each exactly once


def test_loki_against_protocol_double_line_over_the_limit_is_dead_lettered_neighbours_delivered(
    sidecar: Callable[..., SidecarProc], double: Callable[..., LokiDouble]
) -> None:
    loki = double(max_line_bytes=4096)
    sc = sidecar([loki_backend(loki)])
    events = mixed_batch()
    big = event("started", events[0]["entity_id"], 20, datetime.now(UTC), metadata={"blob": "x" * 6000})
    batch = [*events[:4], big, *events[4:]]
    assert sc.post(batch).status_code == 202
    wait_until(lambda: sc.lag("loki") == 0, 60, "the loki backend")
    stored = [json.loads(e["line"])["event_id"] for e in loki.entries()]
    assert sorted(stored) == sorted(e["event_id"] for e in events)  # every neighbour, once
    dead = [json.loads(line) for line in (sc.spool_dir / "deadletter" / "loki.jsonl").read_text().splitlines()]
    assert [d["event"]["event_id"] for d in dead] == [big["event_id"]]
    assert "Loki refused the entry: HTTP 400" in dead[0]["reason"]
    assert "exceeded" in dead[0]["reason"]  # the double's own reason is carried
    health = sc.health()["backends"]["loki"]
    assert health["dead_lettered_events"] == 1 and health["delivered_events"] == len(events)


def test_loki_against_protocol_double_429_retried_after_retry_after_then_delivered(
    sidecar: Callable[..., SidecarProc], double: Callable[..., LokiDouble]
) -> None:
    loki = double()
    sc = sidecar([loki_backend(loki)], delivery={"backoff_max_s": 3.0, "breaker_max_reset_s": 3.0})
    loki.inject(429, 1, retry_after="1", message="Ingestion rate limit exceeded")
    events = mixed_batch()
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("loki") == 0, 60, "the loki backend after the 429")
    loki.inject(503, 1)
    more = mixed_batch()
    assert sc.post(more).status_code == 202
    wait_until(lambda: sc.lag("loki") == 0, 60, "the loki backend after the 503")
    requests = loki.requests()
    statuses = [r["status"] for r in requests]
    assert statuses[0] == 429 and 503 in statuses
    assert requests[1]["at"] - requests[0]["at"] >= 0.9  # Retry-After: 1 was honoured
    assert len(loki.entries()) == len(events) + len(more)
    health = sc.health()["backends"]["loki"]
    assert health["failed_attempts"] >= 2 and health["dead_lettered_events"] == 0


def test_loki_against_protocol_double_multi_tenant_refuses_a_push_without_tenant(
    sidecar: Callable[..., SidecarProc], double: Callable[..., LokiDouble]
) -> None:
    loki = double(tenant_required=True)
    sc = sidecar([loki_backend(loki)])
    assert sc.post(mixed_batch()).status_code == 202
    health = wait_until(
        lambda: (h := sc.health()["backends"]["loki"])["last_error"] and h, 60, "the 401 to show in health"
    )
    assert "HTTP 401" in health["last_error"] and health["lag_events"] > 0
    assert loki.entries() == []


@pytest.mark.parametrize(
    ("double_options", "config"),
    [
        ({"basic_auth": "wafer:s3cr3t"}, {"username": "wafer", "password": "${LOKI_SECRET}"}),
        ({"bearer": "s3cr3t"}, {"bearer_token": "${LOKI_SECRET}"}),
        ({"bearer": "s3cr3t"}, {"headers": {"Authorization": "Bearer ${LOKI_SECRET}"}}),
    ],
    ids=["basic", "bearer_token", "headers"],
)
def test_loki_against_protocol_double_auth_from_an_env_secret(
    sidecar: Callable[..., SidecarProc],
    double: Callable[..., LokiDouble],
    double_options: dict[str, str],
    config: dict[str, Any],
) -> None:
    loki = double(**double_options)
    sc = sidecar([loki_backend(loki, **config)], start=False)
    sc.start(env={"LOKI_SECRET": "s3cr3t"})
    events = mixed_batch()
    assert sc.post(events).status_code == 202
    wait_until(lambda: len(loki.entries()) == len(events), 60, "delivery with the credentials")
    assert "s3cr3t" not in json.dumps(sc.health())  # the secret is not shown in health


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"url": "http://127.0.0.1:3100", "tenat": "a"}, "config.tenat"),
        ({"url": "http://127.0.0.1:3100", "tenant": "a|b"}, "config.tenant"),
        ({"url": "http://127.0.0.1:3100", "external_labels": {"job-name": "x"}}, "config.external_labels.job-name"),
        ({"url": "http://127.0.0.1:3100", "external_labels": {"site": "x"}}, "config.external_labels.site"),
        ({"url": "http://127.0.0.1:3100", "username": "u"}, "config.password"),
        ({"url": "http://127.0.0.1:3100", "max_push_bytes": 10}, "config.max_push_bytes"),
        ({"tenant": "a"}, "config.url"),
    ],
)
def test_loki_bad_config_key_is_named(tmp_path: Path, config: dict[str, Any], named: str) -> None:
    path = tmp_path / "sidecar.json"
    backends = [{"type": "loki", "name": "logs", "config": config}]
    path.write_text(json.dumps({"spool": {"path": str(tmp_path / "spool")}, "backends": backends}))
    done = subprocess.run([SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True)
    assert done.returncode == 2, done.stdout
    assert "'logs'" in done.stderr and named in done.stderr, done.stderr


DOC = (REPO / "docs" / "sidecar.md").read_text()
DOC_SECTION = DOC[DOC.index("### loki") :].split("\n### ", 1)[0]  # up to the next section
DOC_CONFIG = re.search(r"<!-- loki-doc-test: config -->\n```yaml\n(.*?)```", DOC_SECTION, re.DOTALL)


def test_loki_doc_example_checks_and_runs_against_protocol_double(
    sidecar: Callable[..., SidecarProc], double: Callable[..., LokiDouble], tmp_path: Path
) -> None:
    assert DOC_CONFIG is not None
    path = tmp_path / "sidecar.yaml"
    path.write_text(DOC_CONFIG.group(1))
    env = {**os.environ, "LOKI_PASSWORD": "pw"}
    done = subprocess.run(
        [SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0 and "configuration OK" in done.stdout, done.stderr
    for field in msgspec.structs.fields(LokiConfig):
        assert re.search(rf"`{field.name}`", DOC_SECTION + DOC), f"LokiConfig.{field.name} is not documented"
    backend = yaml.safe_load(DOC_CONFIG.group(1))["backends"][0]
    loki = double(tenant_required=True, basic_auth="wafermon:pw")
    backend["config"]["url"] = loki.url
    sc = sidecar([backend], start=False)
    sc.start(env={"LOKI_PASSWORD": "pw"})
    events = mixed_batch()
    assert sc.post(events).status_code == 202
    entries = loki.wait_for(len(events))
    assert len(entries) == len(events)
    assert all(e["tenant"] == "fab1" and e["stream"]["job"] == "wafermon" for e in entries)
