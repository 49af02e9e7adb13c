"""The mongodb backend's output matches conformance/backends/mongodb-vectors.json: the event's
document and its entity's job state, compared as MongoDB Extended JSON (relaxed), field order too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from bson import json_util
from bson.json_util import RELAXED_JSON_OPTIONS

from wafermon_sidecar.backends.mongodb import job_state, latest_states, to_document

VECTORS = Path(__file__).resolve().parents[2] / "conformance" / "backends" / "mongodb-vectors.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]


def extended_json(value: Any) -> Any:
    return json.loads(json_util.dumps(value, json_options=RELAXED_JSON_OPTIONS))


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_event_becomes_the_vector_document_and_job_state(case: dict[str, Any]) -> None:
    event = case["event"]
    document = extended_json(to_document(event))
    assert document == case["document"]
    assert list(document) == list(case["document"])
    state = extended_json({"_id": event["entity_id"], **job_state(event)})
    assert state == case["job_state"]
    assert list(state) == list(case["job_state"])


def test_latest_state_per_entity_is_the_latest_by_time_then_seq() -> None:
    job = next(c["event"] for c in CASES if c["event"]["entity_type"] == "job")
    earlier = {**job, "event_id": "e1", "seq": 5, "at": "2025-10-19T23:59:58Z"}
    same_time_lower_seq = {**job, "event_id": "e2", "seq": 2}
    states = latest_states([job, earlier, same_time_lower_seq])
    assert states[job["entity_id"]]["event_id"] == job["event_id"]
    assert latest_states([{**job, "entity_id": None}, {**job, "seq": "3"}]) == {}  # no id or seq: no state


def test_an_event_time_without_offset_is_refused_in_our_words() -> None:
    with pytest.raises(ValueError, match="has no UTC offset"):
        to_document({**CASES[0]["event"], "at": "2025-10-19T23:59:59"})
