"""conformance/backends/s3-vectors.json: each event's key, and each object's events in order; then
the same events delivered into moto's S3 (an AWS protocol emulator, not AWS) once in one batch and
once event by event give the same objects."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from aws_helpers import new_bucket, objects

from wafermon_sidecar.backends.base import Batch
from wafermon_sidecar.backends.s3 import S3Backend, merged, object_key
from wafermon_testkit.moto_server import MotoServer

VECTORS = Path(__file__).resolve().parents[2] / "conformance" / "backends" / "s3-vectors.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]


def raw(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_s3_vector_keys_and_object_order(case: dict[str, Any]) -> None:
    grouped: dict[str, list[bytes]] = {}
    for item in case["events"]:
        key = object_key(case["prefix"], item["event"], item["seq"], case["object_events"], case["format"])
        grouped.setdefault(key, []).append(raw(item["event"]))
    assert set(grouped) == set(case["objects"])
    for key, events in grouped.items():
        assert [json.loads(e)["event_id"] for e in merged([], events)] == case["objects"][key]


def ids_in(body: bytes, fmt: str) -> list[str]:
    if fmt == "parquet":
        return [str(i) for i in pq.read_table(io.BytesIO(body)).column("event_id").to_pylist()]
    return [json.loads(line)["event_id"] for line in gzip.decompress(body).splitlines()]


async def deliver(config: dict[str, Any], batches: list[tuple[int, list[bytes]]]) -> None:
    backend = S3Backend("vectors", config)
    await backend.initialize()
    try:
        for first_seq, events in batches:
            await backend.send_batch(Batch(events, first_seq))
    finally:
        await backend.close()


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_s3_against_moto_emulator_vector_objects_whatever_the_batches(case: dict[str, Any], moto: MotoServer) -> None:
    seen: list[dict[str, bytes]] = []
    for split in (False, True):
        bucket = new_bucket(moto, "vectors")
        config = {
            "bucket": bucket,
            "endpoint_url": moto.url,
            "prefix": case["prefix"],
            "object_events": case["object_events"],
            "format": case["format"],
        }
        items = sorted(case["events"], key=lambda i: i["seq"])
        batches: list[tuple[int, list[bytes]]] = []
        # Spool seqs are contiguous within a batch: one batch per run of consecutive seqs, or one per event.
        for item in items:
            if batches and not split and batches[-1][0] + len(batches[-1][1]) == item["seq"]:
                batches[-1][1].append(raw(item["event"]))
            else:
                batches.append((item["seq"], [raw(item["event"])]))
        asyncio.run(deliver(config, batches))
        stored = objects(moto, bucket)
        assert {k: ids_in(v, case["format"]) for k, v in stored.items()} == case["objects"]
        seen.append(stored)
    assert seen[0] == seen[1]  # byte for byte
