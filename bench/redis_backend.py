#!/usr/bin/env python3
"""redis backend benchmark: events/s into a real Redis server (Debian's redis-server, started here as
its own process) through the sidecar's backend (`send_batch`, batches of --batch; one EVALSHA per
batch, with and without the de-duplication keys) next to redis-py writing the same entries directly
(`XADD MAXLEN ~` with the same fields in a non-transactional pipeline, one round trip per batch) in
the same run; prints each and the ratios (backend / redis-py; above 1 is faster).

    .venv/bin/python bench/redis_backend.py [--events 50000] [--batch 500] [--rounds 2]

Each side writes its own stream; the rounds alternate the sides so neither always goes first.
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

import redis.asyncio  # noqa: E402
from backend_timing import finished_events, send_batch_rate  # noqa: E402
from redis_peer import RedisServer, peer_version  # noqa: E402

from wafermon_sidecar.backends.redis_streams import RedisStreamsBackend, entry_fields  # noqa: E402

MAXLEN = 10_000_000


async def through_backend(url: str, stream: str, raw: list[bytes], batch: int, window: int) -> float:
    backend = RedisStreamsBackend("bench", {"url": url, "stream": stream, "maxlen": MAXLEN, "dedup_window_s": window})
    # connect and load the script (the first event, sent before the clock starts)
    return await send_batch_rate(backend, raw, batch)


async def through_redis_py(url: str, stream: str, raw: list[bytes], batch: int) -> float:
    client = redis.asyncio.Redis.from_url(url)
    await client.ping()
    started = time.perf_counter()
    for i in range(0, len(raw), batch):
        pipe = client.pipeline(transaction=False)
        for r in raw[i : i + batch]:
            e = json.loads(r)  # the backend decodes too, for the flat fields
            pipe.xadd(stream, dict(entry_fields(e, r)), maxlen=MAXLEN, approximate=True)
        await pipe.execute()
    elapsed = time.perf_counter() - started
    await client.aclose()
    return len(raw) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rates: dict[str, list[float]] = {"dedup": [], "nodedup": [], "client": []}
    with tempfile.TemporaryDirectory(prefix="wafermon-bench-redis-") as tmp:
        server = RedisServer(Path(tmp))
        server.start()
        try:
            url = server.url
            for n in range(args.rounds):
                sides = [
                    ("dedup", lambda s: through_backend(url, s, finished_events(args.events + 1), args.batch, 3600)),
                    ("nodedup", lambda s: through_backend(url, s, finished_events(args.events + 1), args.batch, 0)),
                    ("client", lambda s: through_redis_py(url, s, finished_events(args.events), args.batch)),
                ]
                for name, run in sides if n % 2 == 0 else sides[::-1]:
                    rates[name].append(asyncio.run(run(f"bench-{name}-{n}")))
            with server.client() as client:
                lengths = {name: client.xlen(f"bench-{name}-0") for name in rates}
        finally:
            server.stop()
    assert lengths == {"dedup": args.events + 1, "nodedup": args.events + 1, "client": args.events}, lengths

    def show(values: list[float]) -> str:
        return " / ".join(f"{v:.0f}" for v in values)

    print(f"Redis {peer_version()}, {args.events} events in batches of {args.batch}, {args.rounds} round(s)")
    print(f"  redis backend (dedup keys)    : {show(rates['dedup'])} events/s")
    print(f"  redis backend (dedup off)     : {show(rates['nodedup'])} events/s")
    print(f"  redis-py pipeline of XADDs    : {show(rates['client'])} events/s")
    for name in ("dedup", "nodedup"):
        ratios = " / ".join(f"{a / b:.2f}" for a, b in zip(rates[name], rates["client"], strict=True))
        print(f"  ratio backend ({name})/client : {ratios}")
    print(f"  entries in the streams (round 1): {lengths['dedup']} / {lengths['nodedup']} / {lengths['client']}")


if __name__ == "__main__":
    main()
