"""The rabbitmq and redis examples in docs/sidecar.md load with --check-config as written, and deliver
into the real peers once their URLs (and CA files) are pointed at the test's."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rabbitmq_peer import RabbitNode, bind_queue, drain
from redis_peer import RedisServer
from sidecar_tests_conftest import REPO, SIDECAR_EXE, SidecarProc, make_events, wait_until

DOC = (REPO / "docs" / "sidecar.md").read_text()


def doc_example(name: str) -> dict[str, Any]:
    found = re.search(rf"<!-- doc-test-{name}: config -->\n```yaml\n(.*?)```", DOC, re.DOTALL)
    assert found is not None, f"docs/sidecar.md lost its {name} example"
    config: dict[str, Any] = yaml.safe_load(found.group(1))
    return config


def check_config(tmp_path: Path, config: dict[str, Any], env: dict[str, str]) -> None:
    path = tmp_path / "sidecar.yaml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr


def test_rabbitmq_example_checks_and_delivers(
    tmp_path: Path, sidecar: Callable[..., SidecarProc], rabbit: RabbitNode
) -> None:
    config = doc_example("rabbitmq")
    config["spool"]["path"] = str(tmp_path / "spool")
    backend = config["backends"][0]
    backend["config"]["ca_file"] = "/etc/ssl/certs/ca-certificates.crt"  # must exist to be checked
    check_config(tmp_path, config, {"AMQP_PASSWORD": "s3cret"})
    # The same block against the test's node: plain AMQP with its guest account, no CA file.
    test_config = {k: v for k, v in backend["config"].items() if k != "ca_file"}
    test_config["url"] = rabbit.url
    queue = bind_queue(rabbit.url, test_config["exchange"])  # mandatory: a queue is bound first
    sc = sidecar([{**backend, "config": test_config}])
    events = make_events(20)
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("events-bus") == 0, 60, "delivery")
    got = drain(rabbit.url, queue, 20)
    assert sorted(m["message_id"] for m in got) == sorted(e["event_id"] for e in events)


def test_redis_example_checks_and_delivers(
    tmp_path: Path, sidecar: Callable[..., SidecarProc], redis_server: RedisServer
) -> None:
    config = doc_example("redis")
    config["spool"]["path"] = str(tmp_path / "spool")
    backend = config["backends"][0]
    backend["config"]["ca_file"] = "/etc/ssl/certs/ca-certificates.crt"  # must exist to be checked
    check_config(tmp_path, config, {"REDIS_PASSWORD": "s3cret"})
    # The same block against the test's server: plain redis://, no password, no CA file.
    test_config = {k: v for k, v in backend["config"].items() if k != "ca_file"}
    test_config["url"] = redis_server.url
    sc = sidecar([{**backend, "config": test_config}])
    events = make_events(20)
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("live-stream") == 0, 60, "delivery")
    with redis_server.client() as client:
        got = [json.loads(fields[b"event"])["event_id"] for _, fields in client.xrange(test_config["stream"])]
        assert got == [e["event_id"] for e in events]
        assert 0 < client.ttl(f"{test_config['stream']}:seen:{events[0]['event_id']}") <= 3600
