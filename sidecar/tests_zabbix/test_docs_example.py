"""The zabbix example in docs/sidecar.md loads with --check-config as written, and delivers into the
real server once its address is pointed at the test's; the documented item table is the one the
test server's hosts are made from."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from sidecar_tests_conftest import REPO, SIDECAR_EXE, SidecarProc, wait_until
from zabbix_peer import CHAR, FLOAT, LOG, TEXT, UNSIGNED, ZabbixServer

from wafermon_testkit.events import job_story

DOC = (REPO / "docs" / "sidecar.md").read_text()
EXAMPLE = re.search(r"<!-- doc-test-zabbix: config -->\n```yaml\n(.*?)```", DOC, re.DOTALL)
SECTION = DOC.split("### zabbix\n", 1)[-1].split("\n## ", 1)[0]
TYPES = {"Numeric (float)": FLOAT, "Character": CHAR, "Log": LOG, "Numeric (unsigned)": UNSIGNED, "Text": TEXT}


def documented_items() -> dict[str, int]:
    """key → value type from the docs' item table, for both entity types."""
    items = {}
    for key, kind in re.findall(r"^\| `(wafer\.E\.\w+)` \| Zabbix trapper \| ([^|,]+?)[,|]", SECTION, re.MULTILINE):
        for entity in ("job", "subjob"):
            items[key.replace(".E.", f".{entity}.")] = TYPES[kind.strip()]
    return items


def test_doc_item_table_is_what_the_test_server_has(zabbix: ZabbixServer) -> None:
    assert documented_items() == zabbix.hosts["fab1-wafer-monitor"]


def test_doc_example_checks_and_delivers(
    tmp_path: Path, sidecar: Callable[..., SidecarProc], zabbix: ZabbixServer
) -> None:
    assert EXAMPLE is not None, "docs/sidecar.md lost its zabbix example"
    config = yaml.safe_load(EXAMPLE.group(1))
    config["spool"]["path"] = str(tmp_path / "spool")
    path = tmp_path / "sidecar.yaml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run([SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    backend = config["backends"][0]
    sc = sidecar([{**backend, "config": dict(backend["config"], zabbix_server=f"http://{zabbix.address}")}])
    events = job_story(start=datetime.now(UTC) - timedelta(minutes=2), subjobs=1, outcome="failed")
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("monitoring") == 0, 60, "delivery")
    assert sc.health()["backends"]["monitoring"].get("dead_lettered_events", 0) == 0
    host = backend["config"]["host"]
    wait_until(lambda: len(zabbix.history(host, "wafer.job.error")) == 1, 30, "the failure in history")
    (error,) = [json.loads(r.value) for r in zabbix.history(host, "wafer.job.error")]
    assert error["entity_id"] == events[0]["entity_id"]
    assert [r.value for r in zabbix.history(host, "wafer.subjob.started")] == ["1"]
