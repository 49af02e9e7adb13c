"""The sqs backend against moto's SQS (an AWS protocol emulator, not AWS; started once per session):
a mixed batch read back field by field from standard and FIFO queues, a replay, the emulator
stopped mid-stream (FIFO order per job kept), a message the queue refuses dead-lettered beside
delivered ones; and the per-entry answers moto never gives, against a stub client (named so)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_helpers import client, mixed_events, new_queue, queue_depth, receive_all, sqs_backend
from sidecar_tests_conftest import SIDECAR_EXE, SidecarProc, wait_until
from stage_fixtures import ride_out_outage

from wafermon_sidecar.backends.base import Batch, PermanentError, TransientError
from wafermon_sidecar.backends.sqs import ATTRIBUTE_FIELDS, SqsBackend, message_group_id
from wafermon_testkit.events import job_story
from wafermon_testkit.moto_server import MotoServer


def by_group(messages: list[dict[str, Any]]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for m in messages:
        groups.setdefault(m["Attributes"]["MessageGroupId"], []).append(json.loads(m["Body"])["event_id"])
    return groups


def expected_groups(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for e in events:
        groups.setdefault(message_group_id(e), []).append(e["event_id"])
    return groups


@pytest.mark.parametrize("fifo", [True, False], ids=["fifo", "standard"])
def test_sqs_against_moto_emulator_mixed_batch_reads_back_field_by_field(
    sidecar: Callable[..., SidecarProc], moto: MotoServer, fifo: bool
) -> None:
    url = new_queue(moto, "mixed", fifo)
    events = mixed_events()
    sc = sidecar([sqs_backend(url, moto)])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("queue") == 0, 60, "delivery to SQS")
    assert sc.health()["backends"]["queue"]["state"] == "ok"
    messages = receive_all(moto, url)
    sent = {e["event_id"]: e for e in events}
    assert sorted(json.loads(m["Body"])["event_id"] for m in messages) == sorted(sent)  # each once
    for m in messages:
        e = sent[json.loads(m["Body"])["event_id"]]
        assert json.loads(m["Body"]) == e  # the event as sent, every field
        attributes = {k: v["StringValue"] for k, v in m["MessageAttributes"].items()}
        assert attributes == {f: e[f] for f in ATTRIBUTE_FIELDS if e.get(f)}
        assert all(v["DataType"] == "String" for v in m["MessageAttributes"].values())
        if fifo:
            assert m["Attributes"]["MessageDeduplicationId"] == e["event_id"]
            job = e["entity_id"] if e["entity_type"] == "job" else e["parent_id"]
            assert m["Attributes"]["MessageGroupId"] == job
    if fifo:  # one job's events (sub-jobs included) in the order sent
        assert by_group(messages) == expected_groups(events)


def test_sqs_against_moto_emulator_fifo_replay_is_dropped_by_deduplication(
    sidecar: Callable[..., SidecarProc], moto: MotoServer
) -> None:
    url = new_queue(moto, "replay", fifo=True)
    events = [e for _ in range(5) for e in job_story(subjobs=1)]
    sc = sidecar([{**sqs_backend(url, moto), "max_batch_size": 7}])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("queue") == 0, 60, "the first delivery")
    wait_until(lambda: queue_depth(moto, url) == len(events), 30, "every message in the queue")
    assert sc.stop() == 0
    (sc.spool_dir / "cursors" / "queue.json").unlink()  # the whole spool again, in other batches
    config = json.loads(sc.config_path.read_text())
    config["backends"][0]["max_batch_size"] = 13
    sc.config_path.write_text(json.dumps(config))
    sc.start()
    wait_until(lambda: sc.health()["backends"]["queue"]["delivered_events"] >= len(events), 60, "the replay")
    assert queue_depth(moto, url) == len(events)  # MessageDeduplicationId = event_id: dropped by SQS
    assert by_group(receive_all(moto, url)) == expected_groups(events)


def test_sqs_against_moto_emulator_stopped_mid_stream_lags_alone_then_arrives_in_order_per_job(
    sidecar: Callable[..., SidecarProc], moto: MotoServer, tmp_path: Path
) -> None:
    url = new_queue(moto, "outage", fifo=True)
    sc = sidecar(
        [
            {"type": "filesystem", "name": "files", "config": {"path": str(tmp_path / "files")}},
            sqs_backend(url, moto, timeout=3, max_attempts=1),
        ],
        ingest={"max_batch_size": 100},
    )

    def first_received(first: list[dict[str, Any]]) -> None:
        assert by_group(receive_all(moto, url)) == expected_groups(first)

    def queue_again() -> None:
        # moto keeps its state in memory: the restarted emulator needs the queue made again (same URL).
        client(moto, "sqs").create_queue(
            QueueName=url.rsplit("/", 1)[1], Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "false"}
        )

    outage = ride_out_outage(
        sc, "queue", tmp_path / "files", moto.stop, moto.start, after_first=first_received, after_start=queue_again
    )
    assert "SQS" in outage.error
    second = outage.second
    assert by_group(receive_all(moto, url)) == expected_groups(second)  # all, once, in order per job


def test_sqs_against_moto_emulator_message_the_queue_refuses_is_dead_lettered_alone(
    sidecar: Callable[..., SidecarProc], moto: MotoServer
) -> None:
    url = new_queue(moto, "small", fifo=True, MaximumMessageSize="1024")
    events = job_story(subjobs=1)
    big = dict(events[2], event_id=str(uuid.uuid4()), metadata={"notes": "x" * 2000})
    batch = [*events[:3], big, *events[3:]]
    sc = sidecar([sqs_backend(url, moto)])
    assert sc.post(batch).status_code == 202
    wait_until(lambda: sc.lag("queue") == 0, 60, "delivery past the refused message")
    assert sc.health()["backends"]["queue"]["dead_lettered_events"] == 1
    lines = [json.loads(x) for x in (sc.spool_dir / "deadletter" / "queue.jsonl").read_text().splitlines()]
    assert [x["event"]["event_id"] for x in lines] == [big["event_id"]]
    assert lines[0]["reason"].startswith("SQS refused the message: InvalidParameterValue")
    assert by_group(receive_all(moto, url)) == expected_groups(events)  # the neighbours, in order


class StubSqsClient:
    """A stand-in for the SQS client (a test double: moto answers no per-entry Failed of these
    kinds): answers each call from a script of per-entry failures, and records what it was sent."""

    def __init__(self, script: list[dict[str, dict[str, Any]]]) -> None:
        self.script = script  # per call: entry position → the Failed item to answer for it
        self.calls: list[list[str]] = []

    async def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append([e["Id"] for e in Entries])
        failures = self.script.pop(0) if self.script else {}
        failed = [{"Id": e["Id"], **failures[e["Id"]]} for e in Entries if e["Id"] in failures]
        return {"Successful": [{"Id": e["Id"]} for e in Entries if e["Id"] not in failures], "Failed": failed}


def test_sqs_per_entry_failures_with_a_stub_client_retry_or_dead_letter_each_entry_alone() -> None:
    backend = SqsBackend("queue", {"queue_url": "https://sqs.eu-west-1.amazonaws.com/1/q", "entry_retries": 2})
    stub = StubSqsClient(
        [
            {
                "1": {"SenderFault": False, "Code": "InternalError", "Message": "try again"},
                "4": {"SenderFault": True, "Code": "InvalidMessageContents", "Message": "bad characters"},
            },
        ]
    )
    backend.aws.client = stub
    events = [json.dumps(e).encode() for e in job_story(subjobs=1)][:6]
    with pytest.raises(PermanentError) as refused:
        asyncio.run(backend.send_batch(Batch(events)))
    assert refused.value.rejected == {4: "SQS refused the message: InvalidMessageContents: bad characters"}
    assert stub.calls == [["0", "1", "2", "3", "4", "5"], ["1"]]  # only the retryable entry again
    # Entries that keep failing retryably: TransientError; the batch's retry sends only those.
    stub2 = StubSqsClient([{"2": {"SenderFault": False, "Code": "ServiceUnavailable"}}] * 3)
    backend.aws.client = stub2
    with pytest.raises(TransientError, match="1 message\\(s\\) not taken by SQS after 3 attempt"):
        asyncio.run(backend.send_batch(Batch(events)))
    asyncio.run(backend.send_batch(Batch(events)))
    assert stub2.calls == [["0", "1", "2", "3", "4", "5"], ["2"], ["2"], ["2"]]


def test_sqs_batches_hold_ten_entries_and_stay_under_the_size_limit() -> None:
    backend = SqsBackend("queue", {"queue_url": "https://sqs.eu-west-1.amazonaws.com/1/q", "max_message_bytes": 4096})
    stub = StubSqsClient([])
    backend.aws.client = stub
    events = [json.dumps(e).encode() for _ in range(6) for e in job_story(subjobs=1)]  # 48 events, ~700 bytes
    asyncio.run(backend.send_batch(Batch(events)))
    assert sorted(int(i) for call in stub.calls for i in call) == list(range(len(events)))
    assert all(len(call) <= 10 for call in stub.calls)
    sizes = [sum(len(events[int(i)]) for i in call) for call in stub.calls]
    assert max(sizes) <= 4096 and len(stub.calls) > len(events) // 10


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"queue_url": None}, "config.queue_url and config.queue_name"),
        ({"queue_url": "sqs/q"}, "config.queue_url"),
        ({"queue_url": None, "queue_name": "bad name"}, "config.queue_name"),
        ({"max_message_bytes": 2_000_000}, "config.max_message_bytes"),
        ({"concurrency": 0}, "config.concurrency"),
        ({"queue": "x"}, "queue"),
    ],
)
def test_sqs_bad_config_fails_check_config_naming_the_key(tmp_path: Path, change: dict[str, Any], needle: str) -> None:
    config = {"queue_url": "https://sqs.eu-west-1.amazonaws.com/123456789012/events.fifo", **change}
    config = {k: v for k, v in config.items() if v is not None}
    path = tmp_path / "sidecar.json"
    backend = {"type": "sqs", "name": "bus", "config": config}
    path.write_text(json.dumps({"spool": {"path": str(tmp_path / "spool")}, "backends": [backend]}))
    done = subprocess.run([SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True)
    assert done.returncode != 0 and needle in done.stderr and "bus" in done.stderr, done.stderr
