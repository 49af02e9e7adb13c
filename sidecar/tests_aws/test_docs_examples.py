"""The AWS examples in docs/sidecar.md load with --check-config as written, and deliver into moto
(an AWS protocol emulator, not AWS) once an endpoint_url points at it."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from aws_helpers import client, log_stream_messages, ndjson_events, objects, receive_all, trace_documents
from sidecar_tests_conftest import REPO, SIDECAR_EXE, SidecarProc, make_events, wait_until

from wafermon_sidecar.backends.xray import segment_id, trace_id
from wafermon_testkit.events import job_story
from wafermon_testkit.moto_server import REGION, MotoServer

DOC = (REPO / "docs" / "sidecar.md").read_text()


def example(name: str) -> dict[str, Any]:
    found = re.search(rf"<!-- doc-test-{name}: config -->\n```yaml\n(.*?)```", DOC, re.DOTALL)
    assert found is not None, f"docs/sidecar.md lost its {name} example"
    config: dict[str, Any] = yaml.safe_load(found.group(1))
    return config


def check_config(tmp_path: Path, config: dict[str, Any]) -> None:
    config["spool"]["path"] = str(tmp_path / "spool")
    path = tmp_path / "sidecar.yaml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run([SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_s3_doc_example_checks_and_delivers_into_moto_emulator(
    tmp_path: Path, sidecar: Callable[..., SidecarProc], moto: MotoServer
) -> None:
    config = example("s3")
    check_config(tmp_path, config)
    backend = config["backends"][0]
    s3, kms = client(moto, "s3"), client(moto, "kms")
    bucket = backend["config"]["bucket"]
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName=backend["config"]["sse_kms_key_id"], TargetKeyId=key_id)
    sc = sidecar([{**backend, "config": {**backend["config"], "endpoint_url": moto.url}}])
    events = make_events(20)
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("datalake") == 0, 60, "delivery")
    stored = objects(moto, bucket)
    assert sorted(e["event_id"] for body in stored.values() for e in ndjson_events(body)) == sorted(
        e["event_id"] for e in events
    )
    assert all(k.startswith("wafermon/events/site=") and k.endswith(".ndjson.gz") for k in stored)
    head = s3.head_object(Bucket=bucket, Key=next(iter(stored)))
    assert head["ServerSideEncryption"] == "aws:kms"


def test_sqs_doc_example_checks_and_delivers_into_moto_emulator(
    tmp_path: Path, sidecar: Callable[..., SidecarProc], moto: MotoServer
) -> None:
    config = example("sqs")
    check_config(tmp_path, config)
    backend = config["backends"][0]
    name = backend["config"]["queue_url"].rsplit("/", 1)[1]
    sqs = client(moto, "sqs")
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"})[
        "QueueUrl"
    ]
    sc = sidecar([{**backend, "config": {**backend["config"], "queue_url": url, "endpoint_url": moto.url}}])
    events = make_events(20)
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("job-events") == 0, 60, "delivery")
    got = receive_all(moto, url)
    assert sorted(json.loads(m["Body"])["event_id"] for m in got) == sorted(e["event_id"] for e in events)


def test_cloudwatch_doc_example_checks_and_delivers_into_moto_emulator(
    tmp_path: Path, sidecar: Callable[..., SidecarProc], moto: MotoServer
) -> None:
    config = example("cloudwatch")
    check_config(tmp_path, config)
    backend = config["backends"][0]
    sc = sidecar([{**backend, "config": {**backend["config"], "endpoint_url": moto.url}}])
    events = make_events(20)
    for e in events:  # CloudWatch Logs takes the last 14 days only; the vectors' events are older
        e["at"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("cloudwatch") == 0, 60, "delivery")
    messages = log_stream_messages(moto, "/wafermon/fab1/events", "node-a")
    stored = [json.loads(m["message"]) for m in messages]
    assert sorted(e["event_id"] for e in stored if "_aws" not in e) == sorted(e["event_id"] for e in events)
    namespaces = {e["_aws"]["CloudWatchMetrics"][0]["Namespace"] for e in stored if "_aws" in e}
    assert namespaces <= {"Wafermon/Fab1"}


def test_xray_doc_example_checks_and_delivers_into_moto_emulator(
    tmp_path: Path, sidecar: Callable[..., SidecarProc], moto: MotoServer
) -> None:
    config = example("xray")
    check_config(tmp_path, config)
    backend = config["backends"][0]
    sc = sidecar([{**backend, "config": {**backend["config"], "endpoint_url": moto.url}}])
    events = job_story(subjobs=1)
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("traces") == 0, 60, "delivery")
    documents = [json.loads(d) for d in trace_documents(moto, [trace_id(events[0])])]
    assert {d["id"] for d in documents} == {segment_id(e["entity_id"]) for e in events}
