"""conformance/backends/cloudwatch-vectors.json: the log events of each event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wafermon_sidecar.backends.cloudwatch import log_events

VECTORS = Path(__file__).resolve().parents[2] / "conformance" / "backends" / "cloudwatch-vectors.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_cloudwatch_vector_log_events(case: dict[str, Any]) -> None:
    raw = json.dumps(case["event"], ensure_ascii=False, separators=(",", ":")).encode()
    got = log_events(raw, case["event"], case["metric_namespace"])
    expected = [{k: v for k, v in e.items() if k != "message_json"} for e in case["log_events"]]
    assert got == expected
    for entry, want in zip(got, case["log_events"], strict=True):
        assert json.loads(entry["message"]) == want["message_json"]
    assert json.loads(got[0]["message"]) == case["event"]
