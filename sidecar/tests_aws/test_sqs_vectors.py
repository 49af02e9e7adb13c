"""conformance/backends/sqs-vectors.json: the SendMessageBatch entry of each event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wafermon_sidecar.backends.sqs import to_entry

VECTORS = Path(__file__).resolve().parents[2] / "conformance" / "backends" / "sqs-vectors.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_sqs_vector_entry(case: dict[str, Any]) -> None:
    raw = json.dumps(case["event"], ensure_ascii=False, separators=(",", ":")).encode()
    entry = to_entry(raw, case["event"], case["entry_id"], case["queue"] == "fifo")
    assert entry == case["entry"]
    assert list(entry["MessageAttributes"]) == list(case["entry"]["MessageAttributes"])  # the order too
    assert json.loads(entry["MessageBody"]) == case["event"]
