#!/usr/bin/env python3
"""zabbix backend benchmark: events/s into a real Zabbix server 6.0 through the sidecar's backend
(`send_batch`, batches of --batch events) next to Zabbix's official Python library (zabbix_utils'
`Sender`, chunks of 250 values like zabbix_sender; Debian ships no zabbix_sender binary) sending the
same values in the same run; prints both and the ratio (backend / zabbix_utils; above 1 is faster).

    .venv/bin/python bench/zabbix_backend.py [--events 20000] [--batch 500]
    .venv/bin/python bench/zabbix_backend.py --server 127.0.0.1:PORT   # a running server (the smoke test)

Without --server it starts its own server over its own PostgreSQL (sidecar/tests_zabbix/zabbix_peer.py)
in a temp dir and checks that history holds every value. Each `finished` event becomes four values
(duration, user CPU, system CPU, memory); each side writes to its own host, so neither meets the
other's values.
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
sys.path.insert(0, str(REPO / "sidecar" / "tests_zabbix"))

from zabbix_peer import DOCUMENTED_ITEMS, ZabbixServer  # noqa: E402
from zabbix_utils import ItemValue, Sender  # type: ignore[import-untyped]  # noqa: E402

from wafermon_sidecar.backends import Batch  # noqa: E402
from wafermon_sidecar.backends.zabbix import ZabbixBackend  # noqa: E402
from wafermon_sidecar.backends.zabbix_items import ITEM_NAMES, to_values  # noqa: E402
from wafermon_testkit import wait_until  # noqa: E402
from wafermon_testkit.events import event  # noqa: E402

BENCH_HOSTS = {"bench-backend": dict(DOCUMENTED_ITEMS), "bench-client": dict(DOCUMENTED_ITEMS)}
VALUES_PER_EVENT = 4


def make_events(n: int, offset_s: int) -> list[bytes]:
    start = datetime.now(UTC) - timedelta(hours=1, seconds=offset_s)
    return [
        json.dumps(event("finished", str(uuid.uuid4()), 1, start + timedelta(milliseconds=i))).encode()
        for i in range(n)
    ]


async def through_backend(server: str, raw: list[bytes], batch: int) -> float:
    backend = ZabbixBackend("bench", {"zabbix_server": server, "host": "bench-backend"})
    await backend.initialize()
    started = time.perf_counter()
    for i in range(0, len(raw), batch):
        await backend.send_batch(Batch(raw[i : i + batch]))
    elapsed = time.perf_counter() - started
    await backend.close()
    return len(raw) / elapsed


def through_zabbix_utils(server: str, raw: list[bytes], batch: int) -> float:
    address, port = server.rsplit(":", 1)
    sender = Sender(server=address, port=int(port), chunk_size=250)
    items = frozenset(ITEM_NAMES)
    started = time.perf_counter()
    for i in range(0, len(raw), batch):  # the same values, made and sent per batch of events
        values = [
            ItemValue(v.host, v.key, v.value, v.clock, v.ns)
            for r in raw[i : i + batch]
            for v in to_values(json.loads(r), "bench-client", "wafer", items)
        ]
        answer = sender.send(values)
        assert answer.failed == 0 and answer.processed == len(values), answer
    elapsed = time.perf_counter() - started
    return len(raw) / elapsed


def stored(server: ZabbixServer, host: str) -> int:
    return sum(len(server.history(host, key)) for key in ("wafer.job.finished", "wafer.job.mem_max_mb"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--server", help="host:port of a running server with the bench hosts (else one is started)")
    args = parser.parse_args()
    own: ZabbixServer | None = None
    with tempfile.TemporaryDirectory(prefix="wafermon-bench-zabbix-") as tmp:
        if args.server is None:
            own = ZabbixServer(Path(tmp), BENCH_HOSTS)
            own.init()
        address = args.server or (own.address if own else "")
        try:
            version = own.version() if own else "6.0"
            backend_rate = asyncio.run(through_backend(address, make_events(args.events, 0), args.batch))
            client_rate = through_zabbix_utils(address, make_events(args.events, 600), args.batch)
            if own is not None:  # every value reached history (2 of the 4 items checked per side)
                for host in BENCH_HOSTS:
                    wait_until(lambda h=host: stored(own, h) == 2 * args.events, 120, f"{host}'s values in history")
        finally:
            if own is not None:
                own.destroy()
    print(f"Zabbix server {version}, {args.events} events ({VALUES_PER_EVENT} values each) in batches of {args.batch}")
    print(f"  zabbix backend        : {backend_rate:10.0f} events/s")
    print(f"  zabbix_utils Sender   : {client_rate:10.0f} events/s")
    print(f"  ratio backend/client  : {backend_rate / client_rate:10.2f}")


if __name__ == "__main__":
    main()
