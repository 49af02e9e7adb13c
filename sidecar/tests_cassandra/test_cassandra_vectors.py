"""The cassandra backend's rows match conformance/backends/cassandra-vectors.json (partition key,
clustering key, every column), and a delivery batch becomes single-partition batches only."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from wafermon_sidecar.backends.cassandra import COLUMNS, partition_batches, to_row

VECTORS = Path(__file__).resolve().parents[2] / "conformance" / "backends" / "cassandra-vectors.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]


def as_vector(value: Any) -> Any:
    if isinstance(value, datetime):  # a CQL timestamp keeps milliseconds
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_event_becomes_the_vector_row(case: dict[str, Any]) -> None:
    text = json.dumps(case["event"], ensure_ascii=False)
    row = dict(zip(COLUMNS, (as_vector(v) for v in to_row(case["event"], text)), strict=True))
    assert row.pop("event") == text  # the event's JSON text as received, byte for byte
    assert row == case["row"]
    assert [row["site_id"], row["day"]] == case["partition_key"]
    assert [row["at"], row["event_id"]] == case["clustering_key"]


def test_batches_never_span_partitions_and_respect_both_caps() -> None:
    base = CASES[0]["event"]
    events = [
        {**base, "event_id": f"e{i}", "site_id": site, "at": at}
        for i, (site, at) in enumerate(
            [("fab1", "2026-01-01T23:00:00Z"), ("fab2", "2026-01-01T23:00:00Z"), ("fab1", "2026-01-02T00:00:00Z")] * 5
        )
    ]
    rows = {i: to_row(e, json.dumps(e)) for i, e in enumerate(events)}
    runs = partition_batches(rows, max_rows=2, max_bytes=10**6)
    assert sorted(p for run in runs for p in run) == list(range(len(events)))  # every row once
    for run in runs:
        assert len({(rows[p][0], rows[p][1]) for p in run}) == 1 and len(run) <= 2
    assert len(runs) == 9  # 3 partitions x 5 rows, 2 per batch
    one_each = partition_batches(rows, max_rows=100, max_bytes=1)  # a row over the byte cap goes alone
    assert all(len(run) == 1 for run in one_each)


def test_an_event_without_site_or_offset_is_refused_in_our_words() -> None:
    with pytest.raises(ValueError, match="no site_id for the partition key"):
        to_row({**CASES[0]["event"], "site_id": None}, "{}")
    with pytest.raises(ValueError, match="has no UTC offset"):
        to_row({**CASES[0]["event"], "at": "2025-10-19T23:59:59"}, "{}")
