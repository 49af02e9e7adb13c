"""The rabbitmq backend's output matches conformance/backends/rabbitmq-vectors.json: the routing key
(escaping rule included) and the message properties of each event."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wafermon_sidecar.backends.rabbitmq import MAX_PART_BYTES, message_properties, routing_key, routing_key_part

VECTORS = Path(__file__).resolve().parents[2] / "conformance" / "backends" / "rabbitmq-vectors.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_event_becomes_the_vector_message(case: dict[str, Any]) -> None:
    assert routing_key(case["event"]) == case["routing_key"]
    assert message_properties(case["event"]) == case["properties"]


@pytest.mark.parametrize("value", ["a.b", "%2E", "_", "", None, "x" * 100, "ü" * 40, "a*b#c", ".%" * 40])
def test_a_part_never_holds_a_separator_or_wildcard_and_fits(value: Any) -> None:
    part = routing_key_part(value)
    assert part and not set(part) & {".", "*", "#"}
    assert len(part.encode()) <= MAX_PART_BYTES
    assert "%" not in part.replace("%25", "").replace("%2E", "").replace("%2A", "").replace("%23", "").replace(
        "%5F", ""
    )  # every % starts one of the escapes: never a cut one
