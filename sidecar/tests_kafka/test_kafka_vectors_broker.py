"""conformance/backends/kafka-vectors.json against a real broker: each vector's event, ingested as
its `value` bytes, is read back from its topic with the vector's key, headers (in order) and value."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kafka_peer import KafkaBroker
from sidecar_tests_conftest import SidecarProc, wait_until

VECTORS = Path(__file__).resolve().parents[2] / "conformance" / "backends" / "kafka-vectors.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]


def test_vectors_read_back_from_the_broker(sidecar: Callable[..., SidecarProc], kafka: KafkaBroker) -> None:
    templates = sorted({c["topic"] for c in CASES})  # one backend per topic setting; each takes every event
    backends = [
        {
            "type": "kafka",
            "name": f"vectors{i}",
            "config": {"bootstrap_servers": kafka.bootstrap, "topic": template},
        }
        for i, template in enumerate(templates)
    ]
    sc = sidecar(backends)
    body = "\n".join(c["value"] for c in CASES).encode()
    assert sc.post(body, headers={"Content-Type": "application/x-ndjson"}).status_code == 202
    wait_until(lambda: all(sc.lag(b["name"]) == 0 for b in backends), 90, "delivery of the vectors")
    for case in CASES:
        record = case["record"]
        found = [m for m in kafka.read(record["topic"], 1) if m.value() == record["value"].encode()]
        assert len(found) == 1, case["name"]
        message = found[0]
        assert message.key() == record["key"].encode()
        assert [[name, value.decode()] for name, value in message.headers()] == record["headers"]
