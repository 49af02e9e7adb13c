"""A tiny run of bench/kafka_backend.py against the session's broker, so the benchmark keeps working
(the real runs are by hand): it exits 0, reads every record back and prints its figures."""

from __future__ import annotations

import subprocess
import sys

from kafka_peer import REPO, KafkaBroker


def test_kafka_bench_runs_and_prints_its_figures(kafka: KafkaBroker) -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "kafka_backend.py"), "--events", "1000", "--batch", "100",
         "--rounds", "1", "--bootstrap", kafka.bootstrap],
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    needles = [
        "1000 events in batches of 100",
        "records read back per topic       : 1001",
        "1 round(s)",
        "kafka backend",
        "confluent-kafka, streaming",
        "confluent-kafka, flush every batch",
        "ratio backend/streaming",
    ]
    for needle in needles:
        assert needle in done.stdout, done.stdout
