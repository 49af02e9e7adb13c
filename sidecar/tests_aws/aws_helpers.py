"""Helpers of the AWS stage: boto3 clients on the moto emulator (to read back what the sidecar
wrote, through the AWS API), the mixed events, and a sidecar backend entry."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from wafermon_testkit.events import event, job_story
from wafermon_testkit.moto_server import REGION, MotoServer


def client(moto: MotoServer, service: str) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=moto.url)


def new_bucket(moto: MotoServer, stem: str) -> str:
    name = f"{stem}-{uuid.uuid4().hex[:8]}"
    client(moto, "s3").create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


def s3_backend(moto: MotoServer, bucket: str, name: str = "lake", **extra: Any) -> dict[str, Any]:
    return {"type": "s3", "name": name, "config": {"bucket": bucket, "endpoint_url": moto.url, **extra}}


def objects(moto: MotoServer, bucket: str) -> dict[str, bytes]:
    """Every object of the bucket: key → body."""
    s3 = client(moto, "s3")
    found: dict[str, bytes] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            found[item["Key"]] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def ndjson_events(body: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(body).splitlines() if line]


def mixed_events() -> list[dict[str, Any]]:
    """Jobs with sub-jobs, a failed job, unicode and nested metadata, two sites, over two UTC days."""
    day1 = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)
    events = job_story(start=day1, subjobs=2, metadata={"recipe": "R-17", "lot": {"id": "L-9", "wafers": [1, 2]}})
    events += job_story(start=day1 + timedelta(hours=3), outcome="failed", app="gravure-ätz", site_id="fab-β/ost=1")
    events.append(
        event(
            "finished", str(uuid.uuid4()), 1, day1, metadata={"operator": "Zoë 東京", "deep": {"a": {"b": {"c": 1.5}}}}
        )
    )
    return events


def new_queue(moto: MotoServer, stem: str, fifo: bool = False, **attributes: str) -> str:
    """A fresh queue's URL (FIFO: name ending in .fifo, content-based de-duplication off)."""
    name = f"{stem}-{uuid.uuid4().hex[:8]}" + (".fifo" if fifo else "")
    if fifo:
        attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "false", **attributes}
    url: str = client(moto, "sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    return url


def receive_all(moto: MotoServer, url: str) -> list[dict[str, Any]]:
    """Every message of the queue in the order received (each deleted once received, so a FIFO
    group's next message becomes visible), with all attributes."""
    sqs = client(moto, "sqs")
    messages: list[dict[str, Any]] = []
    empty = 0
    while empty < 2:
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
        )
        got = answer.get("Messages", [])
        empty = 0 if got else empty + 1
        for message in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        messages += got
    return messages


def queue_depth(moto: MotoServer, url: str) -> int:
    attributes = client(moto, "sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def sqs_backend(url: str, moto: MotoServer, name: str = "queue", **extra: Any) -> dict[str, Any]:
    return {"type": "sqs", "name": name, "config": {"queue_url": url, "endpoint_url": moto.url, **extra}}


def recent_mixed_events() -> list[dict[str, Any]]:
    """mixed_events() moved to end a minute ago (CloudWatch Logs takes events of the last 14 days only)."""
    events = mixed_events()
    base = max(datetime.fromisoformat(e["at"]) for e in events)
    now = datetime.now(UTC) - timedelta(minutes=1)  # the latest a minute ago
    for e in events:
        moment = datetime.fromisoformat(e["at"]) - base + now
        e["at"] = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return events


def log_stream_messages(moto: MotoServer, group: str, stream: str) -> list[dict[str, Any]]:
    """Every log event of the stream, oldest first: {"timestamp", "message"}."""
    logs = client(moto, "logs")
    found: list[dict[str, Any]] = []
    token: str | None = None
    while True:
        extra = {"nextToken": token} if token else {}
        answer = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True, **extra)
        found += [{"timestamp": e["timestamp"], "message": e["message"]} for e in answer["events"]]
        if not answer["events"] or answer.get("nextForwardToken") in (None, token):
            return found
        token = answer["nextForwardToken"]


def cloudwatch_backend(moto: MotoServer, group: str, name: str = "logs", **extra: Any) -> dict[str, Any]:
    config = {"log_group": group, "log_stream": "node-a", "endpoint_url": moto.url, **extra}
    return {"type": "cloudwatch", "name": name, "config": config}


def trace_documents(moto: MotoServer, trace_ids: list[str]) -> list[str]:
    """The raw segment documents moto holds for these traces (every copy it was sent)."""
    xray = client(moto, "xray")
    found: list[str] = []
    for start in range(0, len(trace_ids), 5):
        answer = xray.batch_get_traces(TraceIds=trace_ids[start : start + 5])
        found += [s["Document"] for t in answer["Traces"] for s in t["Segments"]]
    return found
