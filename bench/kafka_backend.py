#!/usr/bin/env python3
"""kafka backend benchmark: events/s into a real Kafka broker through the sidecar's backend
(`send_batch`, batches of --batch, each waiting for all its delivery reports) next to confluent-kafka's
own Producer writing the same records (same topic layout, key, headers, value, idempotent, acks=all)
in the same run: once streaming (produce everything, one flush at the end: the client at its best) and
once flushing after every --batch records (the backend's discipline: a batch counts once acknowledged).
Prints the rates and the ratios (backend / client; above 1 is faster).

    .venv/bin/python bench/kafka_backend.py [--events 20000] [--batch 500] [--bootstrap HOST:PORT]

Starts its own broker (sidecar/tests_kafka/kafka_peer.py: KRaft single node, 512 MiB heap) in a temp
dir unless --bootstrap names one. Each side writes to its own topic (3 partitions).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "sidecar" / "tests_kafka"))

from confluent_kafka import Consumer, KafkaError, Message, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402
from kafka_peer import KafkaBroker, peer_version  # noqa: E402

from wafermon_sidecar.backends import Batch  # noqa: E402
from wafermon_sidecar.backends.kafka import KafkaBackend  # noqa: E402
from wafermon_sidecar.backends.kafka_record import headers_for, job_key  # noqa: E402
from wafermon_testkit.events import event  # noqa: E402

PARTITIONS = 3


def make_events(n: int) -> list[bytes]:
    start = datetime.now(UTC) - timedelta(hours=1)
    jobs = [str(uuid.uuid4()) for _ in range(max(1, n // 10))]
    return [
        json.dumps(event("finished", jobs[i % len(jobs)], 1, start + timedelta(milliseconds=i))).encode()
        for i in range(n)
    ]


def create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names], operation_timeout=30).values():
        future.result(60)


def stored(bootstrap: str, topic: str) -> int:
    """Records in the topic (the sum of its partitions' end offsets)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4()}"})
    try:
        ends = [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1] for p in range(PARTITIONS)]
    finally:
        consumer.close()
    return sum(ends)


async def through_backend(bootstrap: str, topic: str, raw: list[bytes], batch: int, linger_ms: int) -> float:
    config = {"bootstrap_servers": bootstrap, "topic": topic, "producer_config": {"linger.ms": linger_ms}}
    backend = KafkaBackend("bench", config)
    await backend.initialize()
    await backend.send_batch(Batch(raw[:1]))  # metadata and the producer id, outside the clock
    started = time.perf_counter()
    for i in range(1, len(raw), batch):
        await backend.send_batch(Batch(raw[i : i + batch]))
    elapsed = time.perf_counter() - started
    await backend.close()
    return (len(raw) - 1) / elapsed


def through_client(bootstrap: str, topic: str, raw: list[bytes], flush_every: int | None) -> float:
    producer = Producer(
        {"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "partitioner": "murmur2_random"}
    )
    failures: list[KafkaError] = []

    def report(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(error)

    def produce(value: bytes) -> None:
        e = json.loads(value)
        while True:
            try:
                producer.produce(topic, value, job_key(e), headers=headers_for(e), on_delivery=report)
                return
            except BufferError:
                producer.poll(0.01)

    produce(raw[0])
    producer.flush(60)  # metadata and the producer id, outside the clock
    started = time.perf_counter()
    for i, value in enumerate(raw[1:], 1):
        produce(value)
        if flush_every and i % flush_every == 0:
            producer.flush(60)
        else:
            producer.poll(0)
    left = producer.flush(60)
    elapsed = time.perf_counter() - started
    assert left == 0 and not failures, failures[:3]
    return (len(raw) - 1) / elapsed


def run(bootstrap: str, events: int, batch: int, linger_ms: int) -> tuple[float, float, float]:
    tag = uuid.uuid4().hex[:8]
    names = [f"bench-{side}-{tag}" for side in ("warmup", "backend", "stream", "flushed")]
    create_topics(bootstrap, names)
    through_client(bootstrap, names[0], make_events(events // 4 + 1), None)  # warm the broker's JIT
    backend_rate = asyncio.run(through_backend(bootstrap, names[1], make_events(events + 1), batch, linger_ms))
    stream_rate = through_client(bootstrap, names[2], make_events(events + 1), None)
    flushed_rate = through_client(bootstrap, names[3], make_events(events + 1), batch)
    counts = [stored(bootstrap, name) for name in names[1:]]
    assert counts == [events + 1] * 3, f"records stored per topic: {counts}"
    return backend_rate, stream_rate, flushed_rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--bootstrap", help="an existing broker (default: start one)")
    parser.add_argument("--linger-ms", type=int, default=5, help="the backend's linger.ms (librdkafka's default: 5)")
    args = parser.parse_args()
    if args.bootstrap:
        backend_rate, stream_rate, flushed_rate = run(args.bootstrap, args.events, args.batch, args.linger_ms)
    else:
        with tempfile.TemporaryDirectory(prefix="wafermon-bench-kafka-") as tmp:
            broker = KafkaBroker(Path(tmp))
            broker.start()
            try:
                backend_rate, stream_rate, flushed_rate = run(broker.bootstrap, args.events, args.batch, args.linger_ms)
            finally:
                broker.stop()
    layout = f"1 KRaft node, {PARTITIONS} partitions"
    print(f"Kafka {peer_version()} ({layout}), {args.events} events in batches of {args.batch}")
    print(f"  records read back per topic       : {args.events + 1} (each side)")
    print(f"  kafka backend                     : {backend_rate:10.0f} events/s")
    print(f"  confluent-kafka, streaming        : {stream_rate:10.0f} events/s")
    print(f"  confluent-kafka, flush every batch: {flushed_rate:10.0f} events/s")
    print(f"  ratio backend/streaming           : {backend_rate / stream_rate:10.2f}")
    print(f"  ratio backend/flush every batch   : {backend_rate / flushed_rate:10.2f}")


if __name__ == "__main__":
    main()
