"""The elasticsearch backend's output matches conformance/backends/elasticsearch-vectors.json: the
bulk action (index from the event's UTC day, _id, op) and the document, byte for byte as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wafermon_sidecar.backends.elasticsearch import index_name, to_document

VECTORS = Path(__file__).resolve().parents[2] / "conformance" / "backends" / "elasticsearch-vectors.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_event_becomes_the_vector_document(case: dict[str, Any]) -> None:
    event = case["event"]
    assert {"create": {"_index": index_name(case["index_prefix"], event["at"]), "_id": event["event_id"]}} == case[
        "action"
    ]
    document = to_document(event)
    assert document == case["document"]
    assert list(document) == list(case["document"])  # the field order too
