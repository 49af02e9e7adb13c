"""The code in docs/sidecar.md is run: the configuration example, the curl examples, the webhook
signature check, the health example's keys, the third-party backend and the filters-and-transforms
example with its transform hook (each installed through a real entry point, in a separate
distribution on PYTHONPATH)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from conftest import REPO, SIDECAR_EXE, ReceiverProc, SidecarProc, make_events, read_jsonl_ids, wait_until

from wafermon_sidecar.backends.filesystem import FilesystemConfig
from wafermon_sidecar.backends.managed_api import ManagedApiConfig
from wafermon_sidecar.backends.webhook import WebhookBackend, WebhookConfig
from wafermon_sidecar.config import Delivery, Ingest, SpoolSettings, load_settings

DOC = (REPO / "docs" / "sidecar.md").read_text()
BLOCKS = {m.group(1): m.group(2) for m in re.finditer(r"<!-- doc-test: (\S+) -->\n```\w+\n(.*?)```", DOC, re.DOTALL)}


def test_the_doc_has_its_examples() -> None:
    assert set(BLOCKS) == {
        "config", "verify", "curl", "backend", "entry-point", "health", "shaping", "transform", "transform-entry-point"
    }  # fmt: skip


def test_config_example_loads_and_documents_every_key(tmp_path: Path) -> None:
    path = tmp_path / "sidecar.yaml"
    path.write_text(BLOCKS["config"])
    settings = load_settings(path)
    assert [b.type for b in settings.backends] == ["filesystem", "webhook", "managed_api"]
    done = subprocess.run([SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True)
    assert done.returncode == 0 and "configuration OK" in done.stdout, done.stderr
    for struct in (Ingest, SpoolSettings, Delivery, FilesystemConfig, WebhookConfig, ManagedApiConfig):
        for field in msgspec.structs.fields(struct):
            assert re.search(rf"\b{field.name}\b", BLOCKS["config"] + DOC), f"{struct.__name__}.{field.name}"


def test_webhook_signature_verification_snippet() -> None:
    namespace: dict[str, Any] = {}
    exec(BLOCKS["verify"], namespace)
    verify = namespace["verify"]
    backend = WebhookBackend("hook", {"webhook_url": "http://x/", "secret": "s3"})
    body = json.dumps(make_events(2)).encode()
    headers = backend.request_headers(body, 2)
    assert verify("s3", body, headers)
    assert not verify("s3", body + b" ", headers)
    assert not verify("other", body, headers)
    assert not verify("s3", body, {**headers, "X-Wafermon-Timestamp": "1000"})


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="needs curl and jq")
def test_curl_examples(sidecar: Callable[..., SidecarProc], tmp_path: Path) -> None:
    sc = sidecar([{"type": "filesystem", "name": "files", "config": {"path": str(tmp_path / "out")}}])
    (tmp_path / "events.ndjson").write_text("\n".join(json.dumps(e) for e in make_events(2)) + "\n")
    script = "set -euo pipefail\n" + BLOCKS["curl"].replace("127.0.0.1:17000", f"127.0.0.1:{sc.port}")
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count('{"accepted":2,"rejected":[]}') == 2, done.stdout
    assert '"files"' in done.stdout and 'wafermon_sidecar_integration_lag_seconds{integration="files"}' in done.stdout


def test_health_example_keys_match_a_real_answer(sidecar: Callable[..., SidecarProc], tmp_path: Path) -> None:
    example = json.loads(BLOCKS["health"])
    sc = sidecar([{"type": "filesystem", "name": "local-files", "config": {"path": str(tmp_path / "out")}}])
    real = sc.health()
    assert set(example) == set(real)
    assert set(example["spool"]) == set(real["spool"])
    assert set(example["backends"]["local-files"]) == set(real["backends"]["local-files"])
    assert [set(i) for i in example["integrations"]] == [set(real["integrations"][0])] * 3


def test_third_party_backend_through_an_entry_point(sidecar: Callable[..., SidecarProc], tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "wafermon_counter.py").write_text(BLOCKS["backend"])
    dist = site / "wafermon_counter-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: wafermon-counter\nVersion: 0.1\n")
    entry_points = tomllib.loads(BLOCKS["entry-point"])["project"]["entry-points"]
    group = "wafermon.backends"
    lines = [f"[{group}]"] + [f"{name} = {target}" for name, target in entry_points[group].items()]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")

    ids_file = tmp_path / "ids" / "counted.txt"
    sc = sidecar([{"type": "counter", "name": "count", "config": {"path": str(ids_file)}}], start=False)
    sc.start(env={"PYTHONPATH": str(site)})
    events = make_events(15)
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("count") == 0, 20, "the third-party backend")
    assert sorted(ids_file.read_text().split()) == sorted(e["event_id"] for e in events)
    assert sc.health()["backends"]["count"]["details"] == {"path": str(ids_file), "seen": 15}


def _hot_lots_site(tmp_path: Path) -> Path:
    """The doc's transform module, installed as a distribution with the doc's entry point."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "wafermon_lots.py").write_text(BLOCKS["transform"])
    dist = site / "wafermon_lots-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: wafermon-lots\nVersion: 0.1\n")
    group = "wafermon.transforms"
    entry_points = tomllib.loads(BLOCKS["transform-entry-point"])["project"]["entry-points"][group]
    lines = [f"[{group}]"] + [f"{name} = {target}" for name, target in entry_points.items()]
    (dist / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return site


def _varied_events(n: int) -> list[dict[str, Any]]:
    """n valid events across statuses, sites, apps, entity types, lots, priorities and escalations."""
    events = make_events(n)
    for i, e in enumerate(events):
        status = ("failed", "cancelled", "running", "succeeded")[i % 4]
        if status == "running":
            e.update(event_kind="progress", status=status, error=None)
            e.pop("metrics", None)
        else:
            e.update(event_kind="finished", status=status, metrics={"duration_s": 2.5})
            e["error"] = {"type": "Timeout", "message": "no answer"} if status == "failed" else None
        e["site_id"] = ("fab1", "fab2")[i // 4 % 2]
        e["app"] = {"name": ("etl", "smoke-test", "processor")[i % 3], "version": "1.0"}
        if e["entity_type"] == "subjob" and i % 5 == 0:
            e.update(entity_type="job", parent_id=None)
        metadata: dict[str, Any] = {"lot_id": ("A1", "B2", "C3", "TEST-9")[i % 4 if i % 7 else 3]}
        if i % 3 == 0:
            metadata["priority"] = ("high", "urgent", "low")[i // 3 % 3]
        if i % 11 == 0:
            metadata["escalated"] = None
        e["metadata"] = metadata
    return events


def test_filters_and_transforms_example(
    sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc], tmp_path: Path
) -> None:
    site = _hot_lots_site(tmp_path)
    written = tmp_path / "as-written.yaml"
    written.write_text(BLOCKS["shaping"])
    done = subprocess.run(
        [SIDECAR_EXE, "--config", str(written), "--check-config"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(site)},
    )  # fmt: skip
    assert done.returncode == 0 and "configuration OK" in done.stdout, done.stderr

    alerts = receiver("alerts")
    backends = yaml.safe_load(BLOCKS["shaping"])["backends"]
    for backend in backends:
        if backend["type"] == "webhook":
            backend["config"]["webhook_url"] = alerts.url
        else:
            backend["config"]["path"] = str(tmp_path / backend["name"])
    sc = sidecar(backends, start=False)
    sc.start(env={"PYTHONPATH": str(site)})
    events = _varied_events(60)
    assert sc.post(events).status_code == 202, sc.post(events).text
    for name in ("everything", "alerts", "hot-lots"):
        wait_until(lambda name=name: sc.lag(name) == 0, 30, f"{name} to pass every event")

    assert sorted(read_jsonl_ids(tmp_path / "everything")) == sorted(e["event_id"] for e in events)
    wanted = [
        e for e in events
        if e["status"] in ("failed", "cancelled") and e["entity_type"] == "job" and e["site_id"] == "fab1"
        and e["app"]["name"] not in ("smoke-test", "sandbox")
    ]  # fmt: skip
    assert wanted and len(wanted) < len(events)
    assert alerts.events() == [
        {"event_id": e["event_id"], "site_id": "fab1", "status": e["status"], "error": e["error"],
         "timestamp": e["at"], "app_name": e["app"]["name"], "lot": e["metadata"]["lot_id"]}
        for e in wanted
    ]  # fmt: skip
    hot = [
        e for e in events
        if (e["metadata"].get("priority") in ("high", "urgent") or "escalated" in e["metadata"])
        and not e["metadata"]["lot_id"].startswith("TEST-")
    ]  # fmt: skip
    got = [json.loads(line) for p in sorted((tmp_path / "hot-lots").glob("*.jsonl")) for line in p.open()]
    assert got == [
        {**e, "priority": {"A": "urgent", "B": "high"}.get(e["metadata"]["lot_id"][0], "normal")} for e in hot
    ]
    health = {i["name"]: i for i in sc.health()["integrations"]}
    assert health["alerts"]["filtered"] == len(events) - len(wanted)
    assert health["hot-lots"]["delivered"] == len(hot) and health["hot-lots"]["filtered"] == len(events) - len(hot)
