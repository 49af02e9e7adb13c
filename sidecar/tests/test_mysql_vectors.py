"""The mysql backend's rows and statements match conformance/backends/mysql-vectors.json (event in →
events row out; a batch's events in → jobs rows out), and its config is checked by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wafermon_sidecar.backends.base import ConfigurationError
from wafermon_sidecar.backends.mysql import MysqlBackend
from wafermon_sidecar.backends.mysql_rows import (
    EVENT_COLUMNS,
    JOB_COLUMNS,
    event_row,
    insert_events,
    job_rows,
    upsert_jobs,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "conformance" / "backends" / "mysql-vectors.json").read_text()
)


@pytest.mark.parametrize("case", VECTORS["vectors"], ids=[c["name"] for c in VECTORS["vectors"]])
def test_event_becomes_the_vector_row(case: dict[str, Any]) -> None:
    text = json.dumps(case["event"], ensure_ascii=False)
    row = dict(zip(EVENT_COLUMNS, event_row(case["event"], text), strict=True))
    assert row.pop("event") == text  # the JSON text exactly as received
    expected = dict(case["row"])
    assert expected.pop("event") == case["event"]
    assert row == expected
    assert list(case["row"]) == list(EVENT_COLUMNS)  # the column order too


@pytest.mark.parametrize("case", VECTORS["job_vectors"], ids=[c["name"] for c in VECTORS["job_vectors"]])
def test_events_become_the_vector_jobs_rows(case: dict[str, Any]) -> None:
    rows = [dict(zip(JOB_COLUMNS, r, strict=True)) for r in job_rows(case["events"])]
    assert rows == case["rows"]


def test_statements_are_the_vectors() -> None:
    statements = VECTORS["statements"]
    assert insert_events(VECTORS["table"], 2) == statements["insert_events_2"]
    assert upsert_jobs(VECTORS["jobs_table"], 1) == statements["upsert_jobs_1"]


def test_an_event_without_a_usable_time_has_no_row() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        event_row({**VECTORS["vectors"][0]["event"], "at": "2025-10-19T10:00:00"}, "{}")


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"database": "fab1"}, "config.user"),
        ({"user": "u", "database": "fab-1"}, "config.database"),
        ({"user": "u", "database": "fab1", "table": "1events"}, "config.table"),
        ({"user": "u", "database": "fab1", "jobs_table": "x y"}, "config.jobs_table"),
        ({"user": "u", "database": "fab1", "jobs_table": "wafermon_events"}, "config.jobs_table"),
        ({"user": "u", "database": "fab1", "key_file": "/k.pem"}, "config.key_file"),
        ({"user": "u", "database": "fab1", "max_statement_bytes": 10}, "config.max_statement_bytes"),
        ({"user": "u", "database": "fab1", "sslmode": "on"}, "config.sslmode"),
    ],
)
def test_config_errors_name_the_backend_and_the_key(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        MysqlBackend("warehouse", config)
    assert "'warehouse'" in str(caught.value) and key in str(caught.value)
