"""The kafka backend against a real Kafka broker (KRaft, started once per session), read back with
confluent-kafka's Consumer: a mixed batch field by field, per-job order across partitions, the replay
bound after a crash, a broker stopped mid-stream, a permanently refused record."""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import Message
from kafka_peer import KafkaBroker, headers
from sidecar_tests_conftest import SidecarProc, wait_until
from stage_fixtures import ride_out_outage

from wafermon_testkit.events import event, job_story


def kafka_backend(broker: KafkaBroker, topic: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "kafka",
        "name": "stream",
        "config": {"bootstrap_servers": broker.bootstrap, "topic": topic, "delivery_timeout_s": 3, **extra},
    }


def mixed_events() -> list[dict[str, Any]]:
    """Jobs with sub-jobs, a failed job, unicode and nested metadata, two sites."""
    start = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)
    events = job_story(start=start, subjobs=2, metadata={"recipe": "R-17", "lot": {"id": "L-9", "wafers": [1, 2]}})
    events += job_story(start=start + timedelta(hours=3), outcome="failed", app="gravure-ätz", site_id="fab-β")
    events.append(
        event("finished", str(uuid.uuid4()), 1, start, metadata={"operator": "Zoë 東京", "deep": {"a": {"b": 1.5}}})
    )
    return events


def job_of(e: dict[str, Any]) -> str:
    """Written out here, not taken from the backend: a sub-job's records are keyed by its job."""
    return str(e["parent_id"] if e["entity_type"] == "subjob" else e["entity_id"])


def ids(messages: list[Message]) -> list[str]:
    return [json.loads(m.value())["event_id"] for m in messages]


def test_mixed_batch_reads_back_field_by_field(sidecar: Callable[..., SidecarProc], kafka: KafkaBroker) -> None:
    kafka.create_topic("mixed", partitions=3)
    events = mixed_events()
    sc = sidecar([kafka_backend(kafka, "mixed")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("stream") == 0, 60, "delivery to Kafka")
    assert sc.health()["backends"]["stream"]["state"] == "ok"
    messages = kafka.read("mixed", len(events))
    assert len(messages) == len(events)  # each once
    by_id = {json.loads(m.value())["event_id"]: m for m in messages}
    for e in events:
        m = by_id[e["event_id"]]
        assert m.topic() == "mixed"
        assert json.loads(m.value()) == e
        assert m.key() == job_of(e).encode()
        assert headers(m) == {
            "content-type": "application/json",
            "schema": "wafermon.event/1",
            "event_kind": e["event_kind"],
            "entity_type": e["entity_type"],
            "event_id": e["event_id"],
        }
        assert [name for name, _ in m.headers()] == ["content-type", "schema", "event_kind", "entity_type", "event_id"]
    # a job and its sub-jobs share one partition
    partitions = defaultdict(set)
    for e in events:
        partitions[job_of(e)].add(by_id[e["event_id"]].partition())
    assert all(len(p) == 1 for p in partitions.values())


def test_topic_template_by_site_and_entity_type(sidecar: Callable[..., SidecarProc], kafka: KafkaBroker) -> None:
    events = job_story(subjobs=1, site_id="fab 7/β")  # characters a topic cannot hold become _
    sc = sidecar([kafka_backend(kafka, "wm.{site_id}.{entity_type}")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("stream") == 0, 90, "delivery to the templated topics (created on first use)")
    jobs = kafka.read("wm.fab_7__.job", 4)
    subjobs = kafka.read("wm.fab_7__.subjob", 2)
    assert sorted(ids(jobs)) == sorted(e["event_id"] for e in events if e["entity_type"] == "job")
    assert sorted(ids(subjobs)) == sorted(e["event_id"] for e in events if e["entity_type"] == "subjob")


def assert_order_per_job(messages: list[Message], events: list[dict[str, Any]]) -> None:
    """Every job in one partition, its events there in the order they were ingested (first copies)."""
    sent = defaultdict(list)
    for e in events:
        sent[job_of(e)].append(e["event_id"])
    seen: dict[str, list[str]] = defaultdict(list)
    partition_of: dict[str, set[int]] = defaultdict(set)
    for m in sorted(messages, key=lambda m: (m.partition(), m.offset())):
        value = json.loads(m.value())
        job = job_of(value)
        partition_of[job].add(m.partition())
        if value["event_id"] not in seen[job]:
            seen[job].append(value["event_id"])
    assert all(len(p) == 1 for p in partition_of.values()), partition_of
    assert dict(seen) == dict(sent)


def test_order_per_job_is_kept_within_a_partition(sidecar: Callable[..., SidecarProc], kafka: KafkaBroker) -> None:
    kafka.create_topic("ordered", partitions=4)
    stories = [job_story(subjobs=2, progress_steps=5) for _ in range(40)]
    # the jobs' events interleaved, as a busy host sends them
    events = [e for step in range(max(map(len, stories))) for story in stories for e in story[step : step + 1]]
    sc = sidecar([kafka_backend(kafka, "ordered")], ingest={"max_batch_size": 50})
    for start in range(0, len(events), 70):
        assert sc.post(events[start : start + 70]).status_code == 202
    wait_until(lambda: sc.lag("stream") == 0, 60, "delivery")
    messages = kafka.read("ordered", len(events))
    assert len(messages) == len(events)
    assert len({m.partition() for m in messages}) == 4  # the jobs spread over every partition
    assert_order_per_job(messages, events)


def test_replay_after_a_crash_duplicates_at_most_the_unsynced_events(
    sidecar: Callable[..., SidecarProc], kafka: KafkaBroker
) -> None:
    """The idempotent producer de-duplicates only within one producer session: events delivered after
    the last cursor fsync are produced again by the next process. Bound: those events, once more."""
    kafka.create_topic("replayed", partitions=2)
    warm_up = job_story()
    sc = sidecar([kafka_backend(kafka, "replayed")], delivery={"cursor_sync_interval_s": 3600})
    assert sc.post(warm_up).status_code == 202
    wait_until(lambda: sc.lag("stream") == 0, 60, "the warm-up delivery (its cursor is fsync'd: the first one)")
    first = [e for _ in range(10) for e in job_story(subjobs=1)]
    assert sc.post(first).status_code == 202
    wait_until(lambda: sc.lag("stream") == 0, 60, "the first delivery")
    sc.kill()  # kill -9: the cursor was never fsync'd past these events
    sc.start()
    second = [e for _ in range(5) for e in job_story()]
    assert sc.post(second).status_code == 202
    wait_until(lambda: sc.lag("stream") == 0, 60, "delivery after the restart")
    everything = warm_up + first + second
    messages = kafka.read("replayed", len(everything) + len(first))
    counts = defaultdict(int)
    for m in messages:
        counts[headers(m)["event_id"]] += 1
    assert set(counts) == {e["event_id"] for e in everything}
    assert all(counts[e["event_id"]] == 2 for e in first)  # the replay: once more, never more
    assert all(counts[e["event_id"]] == 1 for e in warm_up + second)
    assert_order_per_job(messages, everything)  # a consumer keeping first copies sees each job in order


def test_broker_stopped_mid_stream_lags_alone_then_everything_arrives_in_order(
    sidecar: Callable[..., SidecarProc], kafka: KafkaBroker, tmp_path: Path
) -> None:
    kafka.create_topic("outage", partitions=3)
    sc = sidecar(
        [
            {"type": "filesystem", "name": "files", "config": {"path": str(tmp_path / "files")}},
            kafka_backend(kafka, "outage"),
        ],
        ingest={"max_batch_size": 100},
    )

    def post_in_time(chunk: list[dict[str, Any]]) -> None:
        # posted while the backend waits for delivery reports that cannot come (3 s each): the
        # producer is polled off the event loop, so ingest answers at its usual pace
        started = time.monotonic()
        assert sc.post(chunk).status_code == 202
        assert time.monotonic() - started < 2.0
        time.sleep(0.5)

    outage = ride_out_outage(sc, "stream", tmp_path / "files", kafka.stop, kafka.start, chunks=4, post=post_in_time)
    # each attempt waits delivery_timeout_s (3 s) for its delivery reports before it fails
    assert "not acknowledged" in outage.error, outage.error
    everything = outage.everything
    messages = kafka.read("outage", len(everything))
    assert {headers(m)["event_id"] for m in messages} == {e["event_id"] for e in everything}
    assert_order_per_job(messages, everything)


def test_permanently_refused_record_is_dead_lettered_and_neighbours_delivered(
    sidecar: Callable[..., SidecarProc], kafka: KafkaBroker
) -> None:
    # The topic takes record batches of at most 6000 bytes: one event with 10 kB of metadata never fits.
    kafka.create_topic("small", partitions=1, **{"max.message.bytes": "6000"})
    events = job_story(subjobs=2)
    job = events[0]["entity_id"]
    bad = event("progress", job, 99, datetime.now(UTC), metadata={"blob": "x" * 10000})
    batch = [*events[:3], bad, *events[3:]]
    sc = sidecar([kafka_backend(kafka, "small")])
    assert sc.post(batch).status_code == 202
    wait_until(lambda: sc.lag("stream") == 0, 60, "delivery past the refused record")
    status = sc.health()["backends"]["stream"]
    assert status["dead_lettered_events"] == 1
    lines = [json.loads(x) for x in (sc.spool_dir / "deadletter" / "stream.jsonl").read_text().splitlines()]
    assert [x["event"]["event_id"] for x in lines] == [bad["event_id"]]
    assert "the broker refused the record (MSG_SIZE_TOO_LARGE)" in lines[0]["reason"]
    messages = kafka.read("small", len(events))
    assert ids(messages) == [e["event_id"] for e in events]  # each once, in order (one partition)


def test_records_acknowledged_before_a_failed_attempt_are_not_produced_again(
    sidecar: Callable[..., SidecarProc], kafka: KafkaBroker
) -> None:
    """Jobs and sub-jobs in topics of their own, the sub-jobs' topic missing (and not auto-created for
    this producer): every attempt has its job records acknowledged and its sub-job records failing
    (retriable). Once the topic exists the batch goes through: the job records are there once each."""
    kafka.create_topic("split-job", partitions=2)
    events = [e for _ in range(5) for e in job_story(subjobs=2)]
    no_auto_create = {"allow.auto.create.topics": False}
    sc = sidecar([kafka_backend(kafka, "split-{entity_type}", delivery_timeout_s=2, producer_config=no_auto_create)])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.health()["backends"]["stream"]["failed_attempts"] >= 3, 90, "three failed attempts", 0.2)
    status = sc.health()["backends"]["stream"]
    assert status["lag_events"] == len(events) and "not acknowledged" in status["last_error"], status
    kafka.create_topic("split-subjob", partitions=2)
    wait_until(lambda: sc.lag("stream") == 0, 90, "delivery once the topic exists")
    jobs = [e for e in events if e["entity_type"] == "job"]
    subjobs = [e for e in events if e["entity_type"] == "subjob"]
    job_messages = kafka.read("split-job", len(jobs))
    assert sorted(ids(job_messages)) == sorted(e["event_id"] for e in jobs)  # once each, over 3+ attempts
    subjob_messages = kafka.read("split-subjob", len(subjobs))
    assert sorted(ids(subjob_messages)) == sorted(e["event_id"] for e in subjobs)
    assert_order_per_job(job_messages, jobs)
    assert_order_per_job(subjob_messages, subjobs)
