#!/usr/bin/env python3
"""rabbitmq backend benchmark: events/s into a real RabbitMQ node (Debian's rabbitmq-server, started
here as its own process) through the sidecar's backend (`send_batch`, batches of --batch) next to
aio-pika publishing the same messages directly (same properties and routing keys, persistent, one
confirm-mode channel, a batch's messages in flight at once and their confirms awaited) in the same
run; prints both and the ratio (backend / aio-pika; above 1 is faster).

    .venv/bin/python bench/rabbitmq_backend.py [--events 20000] [--batch 500] [--rounds 2]

Both sides publish into their own exchange, each bound to a durable queue (so the broker persists
every message, as a consumer's queue would), counted and purged after each side's run so neither
runs against the other's backlog; the rounds alternate the sides so neither always goes first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "sidecar" / "tests_mq"))

import aio_pika  # noqa: E402
from backend_timing import finished_events, send_batch_rate  # noqa: E402
from rabbitmq_peer import RabbitNode, bind_queue, peer_version  # noqa: E402

from wafermon_sidecar.backends.rabbitmq import RabbitMQBackend, message_properties, routing_key  # noqa: E402


async def through_backend(url: str, raw: list[bytes], batch: int) -> float:
    backend = RabbitMQBackend("bench", {"url": url, "exchange": "bench-backend"})
    # connect and declare (the first event, sent before the clock starts)
    return await send_batch_rate(backend, raw, batch)


async def through_aio_pika(url: str, raw: list[bytes], batch: int) -> float:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange("bench-client", aio_pika.ExchangeType.TOPIC, durable=True)
        started = time.perf_counter()
        for i in range(0, len(raw), batch):
            chunk = raw[i : i + batch]
            events = [json.loads(r) for r in chunk]  # the backend decodes too, for the routing keys
            await asyncio.gather(
                *(
                    exchange.publish(aio_pika.Message(r, **message_properties(e)), routing_key(e))
                    for r, e in zip(chunk, events, strict=True)
                )
            )
        elapsed = time.perf_counter() - started
    return len(raw) / elapsed


async def queue_depth(url: str, queue: str) -> int:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        count = declared.declaration_result.message_count or 0
        await declared.purge()
        return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"backend": [], "client": []}
    counts: dict[str, list[int]] = {"backend": [], "client": []}
    with tempfile.TemporaryDirectory(prefix="wafermon-bench-rabbit-") as tmp:
        node = RabbitNode(Path(tmp))
        node.start()
        try:
            url = node.url
            queues = {"backend": bind_queue(url, "bench-backend"), "client": bind_queue(url, "bench-client")}
            asyncio.run(through_aio_pika(url, finished_events(args.events // 4), args.batch))  # warm-up
            asyncio.run(queue_depth(url, queues["client"]))
            sides = [
                ("backend", lambda: through_backend(url, finished_events(args.events + 1), args.batch)),
                ("client", lambda: through_aio_pika(url, finished_events(args.events), args.batch)),
            ]
            for n in range(args.rounds):
                for name, run in sides if n % 2 == 0 else sides[::-1]:
                    rates[name].append(asyncio.run(run()))
                    counts[name].append(asyncio.run(queue_depth(url, queues[name])))
        finally:
            node.shutdown()
    assert set(counts["backend"]) == {args.events + 1} and set(counts["client"]) == {args.events}, counts

    def show(values: list[float]) -> str:
        return " / ".join(f"{v:.0f}" for v in values)

    ratios = " / ".join(f"{a / b:.2f}" for a, b in zip(rates["backend"], rates["client"], strict=True))
    print(
        f"RabbitMQ {peer_version()} (1 node), {args.events} events in batches of {args.batch}, {args.rounds} round(s)"
    )
    print(f"  rabbitmq backend      : {show(rates['backend'])} events/s")
    print(f"  aio-pika with confirms: {show(rates['client'])} events/s")
    print(f"  ratio backend/client  : {ratios}")
    print(f"  messages in the queues: {counts['backend'][0]} / {counts['client'][0]}")


if __name__ == "__main__":
    main()
