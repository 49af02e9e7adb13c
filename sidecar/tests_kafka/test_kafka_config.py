"""The kafka backend's configuration through `wafermon-sidecar --check-config`: a good block loads; an
unknown key, a bad value, a setting the backend owns or a librdkafka setting librdkafka refuses each
fail with a message naming the backend and the key."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sidecar_tests_conftest import SIDECAR_EXE, SidecarProc, wait_until


def check(tmp_path: Path, config: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "sidecar.json"
    backend = {"type": "kafka", "name": "stream", "config": config}
    path.write_text(json.dumps({"spool": {"path": str(tmp_path / "spool")}, "backends": [backend]}))
    return subprocess.run(
        [SIDECAR_EXE, "--config", str(path), "--check-config"],
        capture_output=True,
        text=True,
        env={"KAFKA_PASSWORD": "s3cret"},
        timeout=60,
    )


def test_a_full_block_with_sasl_ssl_loads(tmp_path: Path) -> None:
    done = check(
        tmp_path,
        {
            "bootstrap_servers": ["kafka-1.example:9093", "kafka-2.example:9093"],
            "topic": "wafer.{site_id}.{entity_type}",
            "client_id": "fab1-sidecar",
            "delivery_timeout_s": 15,
            "producer_config": {
                "security.protocol": "SASL_SSL",
                "sasl.mechanism": "SCRAM-SHA-512",
                "sasl.username": "wafermon",
                "sasl.password": "${KAFKA_PASSWORD}",
                "ssl.ca.location": "/etc/wafermon/kafka-ca.pem",  # checked when the producer starts
                "compression.type": "zstd",
                "linger.ms": 20,
                "batch.size": 262144,
            },
        },
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({}, "config.bootstrap_servers"),
        ({"bootstrap_servers": "kafka:9092", "topics": "x"}, "config.topics"),
        ({"bootstrap_servers": "kafka"}, "config.bootstrap_servers must be host:port"),
        ({"bootstrap_servers": "kafka:9092", "delivery_timeout_s": 0}, "config.delivery_timeout_s"),
        ({"bootstrap_servers": "kafka:9092", "topic": "wafer/{host}"}, "config.topic may only hold"),
        ({"bootstrap_servers": "kafka:9092", "producer_config": {"acks": "1"}}, "config.producer_config.acks is set"),
        (
            {"bootstrap_servers": "kafka:9092", "producer_config": {"enable.idempotence": False}},
            "config.producer_config.enable.idempotence is set by the backend",
        ),
        (
            {"bootstrap_servers": "kafka:9092", "producer_config": {"security.protocol": "tls"}},
            "config.producer_config.security.protocol must be one of",
        ),
        (
            {"bootstrap_servers": "kafka:9092", "producer_config": {"sasl.mechanism": "PLAIN", "sasl.username": "u"}},
            "sasl.username and sasl.password go together",
        ),
        (
            {"bootstrap_servers": "kafka:9092", "producer_config": {"sasl.mechanism": "PLAIN"}},
            "needs security.protocol sasl_plaintext or sasl_ssl",
        ),
        (
            {"bootstrap_servers": "kafka:9092", "producer_config": {"linger.mss": 5}},
            "config.producer_config is refused by librdkafka",
        ),
        (
            {"bootstrap_servers": "kafka:9092", "producer_config": {"batch.size": "big"}},
            "config.producer_config is refused by librdkafka",
        ),
        (
            {"bootstrap_servers": "kafka:9092", "producer_config": {"nested": {"a": 1}}},
            "config.producer_config",
        ),
    ],
)
def test_bad_config_is_named(tmp_path: Path, config: dict[str, Any], named: str) -> None:
    done = check(tmp_path, config)
    assert done.returncode != 0
    assert named in done.stderr and "stream" in done.stderr, done.stderr


def test_a_missing_ca_file_shows_in_health_and_is_retried(tmp_path: Path, sidecar: Callable[..., SidecarProc]) -> None:
    ca = tmp_path / "kafka-ca.pem"  # not there yet
    config = {
        "bootstrap_servers": "127.0.0.1:9",
        "producer_config": {"security.protocol": "SSL", "ssl.ca.location": str(ca)},
    }
    assert check(tmp_path, config).returncode == 0  # files are opened when the producer starts
    sc = sidecar([{"type": "kafka", "name": "stream", "config": config}])
    status = wait_until(
        lambda: (s := sc.health()["backends"]["stream"])["last_error"] and s, 30, "the start failure in health", 0.2
    )
    assert "the Kafka producer cannot start" in status["last_error"] and status["state"] != "ok", status
    assert sc.proc is not None and sc.proc.poll() is None  # the sidecar carries on
