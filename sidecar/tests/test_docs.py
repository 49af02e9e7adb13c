"""The code in docs/sidecar.md is run: the configuration example, the curl examples, the webhook
signature check, the health example's keys, and the third-party backend (installed through a real
entry point, in a separate distribution on PYTHONPATH)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from conftest import REPO, SIDECAR_EXE, SidecarProc, make_events, wait_until

from wafermon_sidecar.backends.filesystem import FilesystemConfig
from wafermon_sidecar.backends.managed_api import ManagedApiConfig
from wafermon_sidecar.backends.webhook import WebhookBackend, WebhookConfig
from wafermon_sidecar.config import Delivery, Ingest, SpoolSettings, load_settings

DOC = (REPO / "docs" / "sidecar.md").read_text()
BLOCKS = {m.group(1): m.group(2) for m in re.finditer(r"<!-- doc-test: (\S+) -->\n```\w+\n(.*?)```", DOC, re.DOTALL)}


def test_the_doc_has_its_examples() -> None:
    assert set(BLOCKS) == {"config", "verify", "curl", "backend", "entry-point", "health"}


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
    assert '"files"' in done.stdout and "wafermon_sidecar_backend_lag_events" in done.stdout


def test_health_example_keys_match_a_real_answer(sidecar: Callable[..., SidecarProc], tmp_path: Path) -> None:
    example = json.loads(BLOCKS["health"])
    sc = sidecar([{"type": "filesystem", "name": "local-files", "config": {"path": str(tmp_path / "out")}}])
    real = sc.health()
    assert set(example) == set(real)
    assert set(example["spool"]) == set(real["spool"])
    assert set(example["backends"]["local-files"]) == set(real["backends"]["local-files"])


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
