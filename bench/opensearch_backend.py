#!/usr/bin/env python3
"""elasticsearch backend benchmark: events/s into a real OpenSearch 2.19 node through the sidecar's
backend (`send_batch`, batches of --batch) next to opensearch-py's `helpers.bulk` writing the same
documents (same index layout, op `create`, chunk_size = --batch) in the same run; prints both and
the ratio (backend / opensearch-py; above 1 is faster).

    .venv/bin/python bench/opensearch_backend.py [--events 20000] [--batch 500]

Starts its own node (sidecar/tests_opensearch/opensearch_peer.py: 512 MiB heap, one processor) in a
temp dir. Each side writes to its own index prefix, so neither meets the other's documents.
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
sys.path.insert(0, str(REPO / "sidecar" / "tests_opensearch"))

from backend_timing import finished_events, send_batch_rate  # noqa: E402
from opensearch_peer import OpenSearchNode  # noqa: E402
from opensearchpy import OpenSearch, helpers  # noqa: E402

from wafermon_sidecar.backends.elasticsearch import ElasticsearchBackend, index_name, to_document  # noqa: E402


async def through_backend(url: str, raw: list[bytes], batch: int) -> float:
    backend = ElasticsearchBackend("bench", {"elasticsearch_url": url, "index_prefix": "bench-backend"})
    # the template (the first event, sent before the clock starts)
    return await send_batch_rate(backend, raw, batch)


def through_opensearch_py(url: str, raw: list[bytes], batch: int, prefix: str = "bench-client") -> float:
    client = OpenSearch(url, timeout=60)
    actions = (
        {
            "_op_type": "create",
            "_index": index_name(prefix, e["at"]),
            "_id": e["event_id"],
            "_source": to_document(e),
        }
        for e in (json.loads(r) for r in raw[1:])
    )
    started = time.perf_counter()
    ok, errors = helpers.bulk(client, actions, chunk_size=batch, max_chunk_bytes=512 * 1024 * 1024)
    elapsed = time.perf_counter() - started
    assert ok == len(raw) - 1 and not errors, errors
    client.close()
    return float(ok) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wafermon-bench-os-") as tmp:
        node = OpenSearchNode(Path(tmp))
        node.start()
        try:
            # Warm the node's JIT first, so neither side pays for it.
            through_opensearch_py(node.url, finished_events(args.events // 4 + 1), args.batch, "bench-warmup")
            raw = finished_events(args.events + 1)
            backend_rate = asyncio.run(through_backend(node.url, raw, args.batch))
            client_rate = through_opensearch_py(node.url, finished_events(args.events + 1), args.batch)
            counted = node.count("bench-backend-*")
        finally:
            node.stop()
    assert counted == args.events + 1, counted
    print(f"OpenSearch 2.19 (1 node), {args.events} events in batches of {args.batch}")
    print(f"  elasticsearch backend : {backend_rate:10.0f} events/s")
    print(f"  opensearch-py bulk    : {client_rate:10.0f} events/s")
    print(f"  ratio backend/client  : {backend_rate / client_rate:10.2f}")


if __name__ == "__main__":
    main()
