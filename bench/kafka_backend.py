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
import statistics
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


Figures = tuple[float, float]  # events/s, this process's CPU µs per event (librdkafka's threads too)


def figures(count: int, wall_s: float, cpu_s: float) -> Figures:
    return count / wall_s, cpu_s / count * 1e6


async def through_backend(bootstrap: str, topic: str, raw: list[bytes], batch: int, linger_ms: int) -> Figures:
    config = {"bootstrap_servers": bootstrap, "topic": topic, "producer_config": {"linger.ms": linger_ms}}
    backend = KafkaBackend("bench", config)
    await backend.initialize()
    await backend.send_batch(Batch(raw[:1]))  # metadata and the producer id, outside the clock
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(1, len(raw), batch):
        await backend.send_batch(Batch(raw[i : i + batch]))
    result = figures(len(raw) - 1, time.perf_counter() - started, time.process_time() - cpu)
    await backend.close()
    return result


def through_client(bootstrap: str, topic: str, raw: list[bytes], flush_every: int | None) -> Figures:
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
    started, cpu = time.perf_counter(), time.process_time()
    for i, value in enumerate(raw[1:], 1):
        produce(value)
        if flush_every and i % flush_every == 0:
            producer.flush(60)
        else:
            producer.poll(0)
    left = producer.flush(60)
    result = figures(len(raw) - 1, time.perf_counter() - started, time.process_time() - cpu)
    assert left == 0 and not failures, failures[:3]
    return result


SIDES = ("kafka backend", "confluent-kafka, streaming", "confluent-kafka, flush every batch")


def run(bootstrap: str, events: int, batch: int, linger_ms: int, rounds: int) -> dict[str, list[Figures]]:
    """`rounds` rounds of the three sides, the order rotated each round (none always goes first)."""
    tag = uuid.uuid4().hex[:8]
    create_topics(bootstrap, [f"bench-warmup-{tag}"])
    through_client(bootstrap, f"bench-warmup-{tag}", make_events(events // 4 + 1), None)  # the broker's JIT
    results: dict[str, list[Figures]] = {side: [] for side in SIDES}
    for r in range(rounds):
        names = {side: f"bench-{i}-{r}-{tag}" for i, side in enumerate(SIDES)}
        create_topics(bootstrap, list(names.values()))
        for side in SIDES[r % 3 :] + SIDES[: r % 3]:
            raw = make_events(events + 1)
            if side == SIDES[0]:
                results[side].append(asyncio.run(through_backend(bootstrap, names[side], raw, batch, linger_ms)))
            else:
                results[side].append(through_client(bootstrap, names[side], raw, batch if side == SIDES[2] else None))
        counts = [stored(bootstrap, name) for name in names.values()]
        assert counts == [events + 1] * 3, f"records stored per topic: {counts}"
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--bootstrap", help="an existing broker (default: start one)")
    parser.add_argument("--linger-ms", type=int, default=5, help="the backend's linger.ms (librdkafka's default: 5)")
    args = parser.parse_args()
    if args.bootstrap:
        results = run(args.bootstrap, args.events, args.batch, args.linger_ms, args.rounds)
    else:
        with tempfile.TemporaryDirectory(prefix="wafermon-bench-kafka-") as tmp:
            broker = KafkaBroker(Path(tmp))
            broker.start()
            try:
                results = run(broker.bootstrap, args.events, args.batch, args.linger_ms, args.rounds)
            finally:
                broker.stop()
    layout = f"1 KRaft node, {PARTITIONS} partitions"
    print(f"Kafka {peer_version()} ({layout}), {args.events} events in batches of {args.batch}, {args.rounds} round(s)")
    print(f"  records read back per topic       : {args.events + 1} (each side, each round)")
    median = {
        side: (statistics.median(r for r, _ in f), statistics.median(c for _, c in f)) for side, f in results.items()
    }
    for side in SIDES:
        rates = " / ".join(f"{r:.0f}" for r, _ in results[side])
        print(f"  {side:34}: {median[side][0]:8.0f} events/s median ({rates}), {median[side][1]:5.1f} CPU µs/event")
    backend = median[SIDES[0]][0]
    print(f"  ratio backend/streaming           : {backend / median[SIDES[1]][0]:8.2f}")
    print(f"  ratio backend/flush every batch   : {backend / median[SIDES[2]][0]:8.2f}")


if __name__ == "__main__":
    main()
