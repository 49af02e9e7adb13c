"""The redis backend's output matches conformance/backends/redis-vectors.json: the stream entry's
fields (the event's JSON as given, then the flat fields that are not null) and the pub/sub channel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wafermon_sidecar.backends.redis_streams import channel_name, entry_fields

VECTORS = Path(__file__).resolve().parents[2] / "conformance" / "backends" / "redis-vectors.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_event_becomes_the_vector_entry(case: dict[str, Any]) -> None:
    raw = json.dumps(case["event"], ensure_ascii=False, separators=(",", ":")).encode()
    fields = [[name, value.decode()] for name, value in entry_fields(case["event"], raw)]
    assert fields == case["fields"]  # names, order and values
    assert json.loads(fields[0][1]) == case["event"]
    assert channel_name(case["pubsub_channel"], case["event"]) == case["channel"]
