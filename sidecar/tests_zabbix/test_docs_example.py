"""The zabbix example in docs/sidecar.md loads with --check-config as written, and delivers into the
real server once its address is pointed at the test's; the documented item table is the one the
test server's hosts are made from."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sidecar_tests_conftest import REPO, SidecarProc, wait_until
from stage_fixtures import checked_doc_example
from zabbix_peer import CHAR, FLOAT, LOG, TEXT, UNSIGNED, ZabbixServer

from wafermon_testkit.events import job_story

DOC = (REPO / "docs" / "sidecar.md").read_text()
SECTION = re.split(r"\n##+ ", DOC.split("### zabbix\n", 1)[-1], maxsplit=1)[0]
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
    config = checked_doc_example("zabbix", tmp_path)
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
