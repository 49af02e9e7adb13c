"""The kafka backend's record mapping matches conformance/backends/kafka-vectors.json: topic, key and
headers (in order) for each event. The value (the event's bytes as ingested) is checked against a real
broker in sidecar/tests_kafka/test_kafka_vectors_broker.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from wafermon_sidecar.backends.kafka_record import check_topic_template, headers_for, job_key, topic_for

VECTORS = Path(__file__).resolve().parents[2] / "conformance" / "backends" / "kafka-vectors.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_event_becomes_the_vector_record(case: dict[str, Any]) -> None:
    event, record = case["event"], case["record"]
    assert check_topic_template(case["topic"]) is None
    assert topic_for(case["topic"], event) == record["topic"]
    assert job_key(event) == record["key"].encode()
    headers = [[name, value.decode() if isinstance(value, bytes) else value] for name, value in headers_for(event)]
    assert headers == record["headers"]
    assert json.loads(record["value"]) == event


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("", "must not be empty"),
        ("..", "must not be empty"),
        ("events/{site_id}", "may only hold the characters"),
        ("{host}-events", "may only hold {site_id} and {entity_type}"),
        ("{site_id!r}", "may only hold {site_id} and {entity_type}"),
        ("{site_id", "is not a valid template"),
        ("x" * 250, "longer than Kafka's 249"),
    ],
)
def test_bad_topic_templates_are_named(template: str, problem: str) -> None:
    found = check_topic_template(template)
    assert found is not None and problem in found


def test_a_topic_too_long_for_kafka_after_substitution_is_refused() -> None:
    with pytest.raises(ValueError, match="not a valid Kafka topic name"):
        topic_for("x" * 200 + "{site_id}", {"site_id": "s" * 100})
