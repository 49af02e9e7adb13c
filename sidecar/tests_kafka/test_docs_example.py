"""The kafka example in docs/sidecar.md loads with --check-config as written, and delivers into the
real broker once its servers are pointed at the test's (PLAINTEXT there: the SASL/SSL keys dropped)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from kafka_peer import KafkaBroker
from sidecar_tests_conftest import SidecarProc, make_events, wait_until
from stage_fixtures import checked_doc_example


def test_doc_example_checks_and_delivers(
    tmp_path: Path, sidecar: Callable[..., SidecarProc], kafka: KafkaBroker
) -> None:
    config = checked_doc_example("kafka", tmp_path, KAFKA_PASSWORD="s")
    backend = config["backends"][0]
    security = ("sasl.", "ssl.", "security.")
    producer_config = {k: v for k, v in backend["config"]["producer_config"].items() if not k.startswith(security)}
    assert producer_config == {"compression.type": "zstd", "linger.ms": 5}  # what the test broker runs with
    test_config = dict(backend["config"], bootstrap_servers=kafka.bootstrap, producer_config=producer_config)
    sc = sidecar([{**backend, "config": test_config}])
    events = make_events(20)
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("event-bus") == 0, 90, "delivery")
    per_topic: dict[str, list[str]] = defaultdict(list)
    for e in events:
        per_topic[f"wafer.{e['site_id']}.{e['entity_type']}"].append(e["event_id"])
    for topic, ids in per_topic.items():
        read = kafka.read(topic, len(ids))
        assert sorted(json.loads(m.value())["event_id"] for m in read) == sorted(ids)
