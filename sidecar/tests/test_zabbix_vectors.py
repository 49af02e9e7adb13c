"""The zabbix backend's output matches conformance/backends/zabbix-vectors.json (event in → sender
`data` items out, field by field and in order), its refusals name the field, and its config — the
seeds' `zabbix` examples as written — loads with --check-config, a bad one failing with the key."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import SIDECAR_EXE

from wafermon_sidecar.backends.base import ConfigurationError
from wafermon_sidecar.backends.zabbix import ZabbixBackend, parse_server
from wafermon_sidecar.backends.zabbix_items import ITEM_NAMES, ItemError, to_values

VECTORS = json.loads(
    (Path(__file__).resolve().parents[2] / "conformance" / "backends" / "zabbix-vectors.json").read_text()
)
CASES: list[dict[str, Any]] = VECTORS["vectors"]
REFUSED: list[dict[str, Any]] = VECTORS["refused"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_event_becomes_the_vector_items(case: dict[str, Any]) -> None:
    config = case.get("config", {})
    items = frozenset(config.get("items", ITEM_NAMES))
    values = [v.as_json() for v in to_values(case["event"], VECTORS["host"], config.get("key_prefix", "wafer"), items)]
    assert values == case["data"]
    assert [list(v) for v in values] == [list(d) for d in case["data"]]  # the field order too


@pytest.mark.parametrize("case", REFUSED, ids=[c["name"] for c in REFUSED])
def test_vector_event_is_refused_naming_the_field(case: dict[str, Any]) -> None:
    with pytest.raises(ItemError, match=case["names"]):
        to_values(case["event"], VECTORS["host"], "wafer", frozenset(ITEM_NAMES))


def test_huge_error_drops_metadata_and_stays_within_zabbix_text_limit() -> None:
    event = dict(CASES[2]["event"], metadata={"blob": "x" * 100_000})
    (error,) = [v for v in to_values(event, "h", "wafer", frozenset(["error"]))]
    record = json.loads(error.value)
    assert record["metadata"] is None and record["metadata_truncated"] is True
    assert record["error"] == event["error"]
    event["error"] = {"type": "E", "message": "y" * 100_000}
    (error,) = [v for v in to_values(event, "h", "wafer", frozenset(["error"]))]
    assert len(error.value.encode()) <= 65_000 and json.loads(error.value)["error"]["message_truncated"] is True


@pytest.mark.parametrize(
    ("given", "address"),
    [
        ("http://zabbix:10051", ("zabbix", 10051)),  # the seeds' form
        ("zabbix", ("zabbix", 10051)),
        ("zabbix.example.com:10052", ("zabbix.example.com", 10052)),
        ("tcp://10.0.0.5:20051", ("10.0.0.5", 20051)),
        ("tcp://[::1]:10051/", ("::1", 10051)),
        ("http://zabbix", ("zabbix", 10051)),
    ],
)
def test_server_address_forms(given: str, address: tuple[str, int]) -> None:
    assert parse_server(given, "z") == address


@pytest.mark.parametrize(
    "given", ["https://zabbix:10051", "zabbix:0", "zabbix:99999", "http://zabbix:10051/api", "http://u:p@zabbix", ""]
)
def test_bad_server_address_names_backend_and_key(given: str) -> None:
    with pytest.raises(ConfigurationError, match=r"backend 'mon': config\.zabbix_server"):
        parse_server(given, "mon")


def check_config(tmp_path: Path, backends: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "sidecar.json"
    path.write_text(json.dumps({"spool": {"path": str(tmp_path / "spool")}, "backends": backends}))
    return subprocess.run([SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True)


# The seeds' zabbix integration examples, as written (000_*.txt: "Zabbix Integration", "Scenario 1").
SEED_EXAMPLES = [
    {"type": "zabbix", "name": "zabbix-prod", "enabled": True,
     "config": {"zabbix_server": "http://zabbix:10051", "host": "wafer-monitor"}},
    {"type": "zabbix", "name": "monitoring", "enabled": True,
     "config": {"zabbix_server": "http://zabbix:10051", "host": "fab1-wafer-monitor"}},
]  # fmt: skip


def test_seed_zabbix_examples_load_as_written(tmp_path: Path) -> None:
    done = check_config(tmp_path, SEED_EXAMPLES)
    assert done.returncode == 0, done.stderr
    assert ZabbixBackend("zabbix-prod", SEED_EXAMPLES[0]["config"]).address == ("zabbix", 10051)


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"zabbix_server": "zabbix", "host": "h", "hostname": "h"}, "hostname"),  # unknown key
        ({"zabbix_server": "zabbix"}, "host"),  # missing
        ({"zabbix_server": "zabbix", "host": ""}, "host"),
        ({"zabbix_server": "https://zabbix", "host": "h"}, "zabbix_server"),
        ({"zabbix_server": "zabbix", "host": "h", "key_prefix": "wafer monitor"}, "key_prefix"),
        ({"zabbix_server": "zabbix", "host": "h", "items": ["started", "duration"]}, "items"),
        ({"zabbix_server": "zabbix", "host": "h", "items": []}, "items"),
        ({"zabbix_server": "zabbix", "host": "h", "timeout": 0}, "timeout"),
        ({"zabbix_server": "zabbix", "host": "h", "values_per_request": 5000}, "values_per_request"),
    ],
)
def test_bad_config_fails_check_config_naming_backend_and_key(tmp_path: Path, config: dict[str, Any], key: str) -> None:
    done = check_config(tmp_path, [{"type": "zabbix", "name": "mon", "config": config}])
    assert done.returncode != 0
    assert "'mon'" in done.stderr and f"config.{key}" in done.stderr, done.stderr
