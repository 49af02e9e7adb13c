#!/usr/bin/env python3
"""nats backend benchmark: events/s into a real nats-server (JetStream, file storage) through the
sidecar's backend (`send_batch`, batches of --batch: every message published concurrently, every ack
awaited) next to nats-py itself publishing the same messages (same subjects and headers, each batch
gathered and all its acks awaited) in the same run; prints both and the ratio (backend / nats-py;
above 1 is faster).

    .venv/bin/python bench/nats_backend.py [--events 20000] [--batch 500]

Starts its own server (sidecar/tests_nats/nats_peer.py; the binary from sidecar/peers/nats/fetch.sh)
in a temp dir. Each side publishes into its own stream, so neither meets the other's messages.
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
sys.path.insert(0, str(REPO / "sidecar" / "tests_nats"))

import nats  # noqa: E402
from backend_timing import finished_events, send_batch_rate  # noqa: E402
from nats.js.api import StreamConfig  # noqa: E402
from nats_peer import NatsServer, peer_version  # noqa: E402

from wafermon_sidecar.backends.nats_jetstream import NatsBackend  # noqa: E402
from wafermon_sidecar.backends.nats_subjects import subject_for  # noqa: E402


async def through_backend(server: NatsServer, raw: list[bytes], batch: int) -> float:
    backend = NatsBackend("bench", server.backend_config("BACKEND"))
    # connecting and adding the stream (the first event, sent before the clock starts)
    return await send_batch_rate(backend, raw, batch)


async def through_nats_py(server: NatsServer, raw: list[bytes], batch: int, stream: str = "CLIENT") -> float:
    template = server.backend_config(stream)["subject"]
    nc = await nats.connect(server.url)
    js = nc.jetstream(timeout=10)
    await js.add_stream(StreamConfig(name=stream, subjects=[f"{stream.lower()}.*.*.*"]))
    # subjects and headers made outside the clock: the bare client
    messages = [(subject_for(template, e), r, e["event_id"]) for e, r in ((json.loads(r), r) for r in raw)]
    started = time.perf_counter()
    for i in range(0, len(messages), batch):
        acks = await asyncio.gather(
            *(
                js.publish(
                    subject, payload, stream=stream, headers={"Nats-Msg-Id": msg_id, "Content-Type": "application/json"}
                )
                for subject, payload, msg_id in messages[i : i + batch]
            )
        )
        assert not any(a.duplicate for a in acks)
    elapsed = time.perf_counter() - started
    await nc.close()
    return len(messages) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wafermon-bench-nats-") as tmp:
        server = NatsServer(Path(tmp))
        server.start()
        try:
            asyncio.run(through_nats_py(server, finished_events(args.events // 4), args.batch, "WARMUP"))
            backend_rate = asyncio.run(through_backend(server, finished_events(args.events + 1), args.batch))
            client_rate = asyncio.run(through_nats_py(server, finished_events(args.events), args.batch))
            counted = server.stream_info("BACKEND").state.messages, server.stream_info("CLIENT").state.messages
        finally:
            server.stop()
    assert counted == (args.events + 1, args.events), counted
    print(f"nats-server {peer_version()} (JetStream, file storage), {args.events} events in batches of {args.batch}")
    print(f"  {'nats backend':<24} : {backend_rate:10.0f} events/s")
    print(f"  {'nats-py js.publish':<24} : {client_rate:10.0f} events/s")
    print(f"  {'ratio backend/nats-py':<24} : {backend_rate / client_rate:10.2f}")


if __name__ == "__main__":
    main()
