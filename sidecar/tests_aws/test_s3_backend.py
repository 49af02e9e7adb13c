"""The s3 backend against moto's S3 (an AWS protocol emulator, not AWS; started once per session):
a mixed batch read back field by field, a replay with other batch boundaries, the emulator stopped
mid-stream, multipart, SSE, Parquet, and a refused event dead-lettered beside delivered ones."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import re
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from aws_helpers import client, mixed_events, ndjson_events, new_bucket, objects, s3_backend
from sidecar_tests_conftest import SIDECAR_EXE, SidecarProc, wait_until
from stage_fixtures import ride_out_outage

from wafermon_sidecar.backends.base import Batch, PermanentError
from wafermon_sidecar.backends.s3 import S3Backend, partition
from wafermon_testkit.events import event, job_story
from wafermon_testkit.moto_server import MotoServer

KEY = re.compile(
    r"^(?P<prefix>.+)/site=(?P<site>[^/]+)/date=(?P<date>\d{4}-\d{2}-\d{2})/hour=(?P<hour>\d{2})/"
    r"(?P<first>\d{12})-(?P<last>\d{12})\.ndjson\.gz$"
)


def stored_events(moto: MotoServer, bucket: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """event_id → (key, event) over the whole bucket; asserts each object's order and that no
    event is stored twice."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for key, body in objects(moto, bucket).items():
        lines = ndjson_events(body)
        assert lines == sorted(lines, key=lambda e: (e["at"], e["event_id"])), key
        for e in lines:
            assert e["event_id"] not in found, f"{e['event_id']} stored twice: {key} and {found[e['event_id']][0]}"
            found[e["event_id"]] = (key, e)
    return found


def test_s3_against_moto_emulator_mixed_batch_reads_back_field_by_field(
    sidecar: Callable[..., SidecarProc], moto: MotoServer
) -> None:
    bucket = new_bucket(moto, "mixed")
    events = mixed_events()
    sc = sidecar([s3_backend(moto, bucket, prefix="fab/events", sse="AES256")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("lake") == 0, 60, "delivery to S3")
    assert sc.health()["backends"]["lake"]["state"] == "ok"
    stored = stored_events(moto, bucket)
    assert set(stored) == {e["event_id"] for e in events}
    for e in events:
        key, back = stored[e["event_id"]]
        assert back == e  # the event as sent, every field
        for field in ("event_id", "at", "site_id", "status", "event_kind", "entity_type", "metadata", "app"):
            assert back[field] == e[field]
        match = KEY.match(key)
        assert match is not None, key
        assert match["prefix"] == "fab/events" and match["site"] == partition(e)[0]
        assert (match["date"], match["hour"]) == (e["at"][:10], e["at"][11:13])  # the event's own UTC hour
        assert (match["first"], match["last"]) == ("000000000000", "000000000499")  # the first span of 500
    keys = {key for key, _ in stored.values()}
    assert {KEY.match(k)["date"] for k in keys} == {"2026-03-01", "2026-03-02"}  # type: ignore[index]
    assert any("/site=fab-β%2Fost%3D1/" in k for k in keys)  # Hive-escaped: "/" and "=" cannot split it
    s3 = client(moto, "s3")
    for key in keys:
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ServerSideEncryption"] == "AES256"  # asked for on the PUT
        assert head["ContentType"] == "application/x-ndjson"


def test_s3_against_moto_emulator_replay_with_other_batch_boundaries_rewrites_identical_objects(
    sidecar: Callable[..., SidecarProc], moto: MotoServer
) -> None:
    bucket = new_bucket(moto, "replay")
    events = [e for _ in range(12) for e in job_story(subjobs=1, site_id=f"fab{_ % 2}")]  # 12 × 8 events
    backend = {**s3_backend(moto, bucket, object_events=20), "max_batch_size": 7}
    sc = sidecar([backend])
    for start in range(0, len(events), 25):  # several posts: partial batches cut spans
        assert sc.post(events[start : start + 25]).status_code == 202
    wait_until(lambda: sc.lag("lake") == 0, 60, "the first delivery")
    first = objects(moto, bucket)
    assert len(stored_events(moto, bucket)) == len(events)
    assert sc.stop() == 0
    # A replay from the start of the spool, in batches of another size: the cursor as if never saved.
    (sc.spool_dir / "cursors" / "lake.json").unlink()
    config = json.loads(sc.config_path.read_text())
    config["backends"][0]["max_batch_size"] = 13
    sc.config_path.write_text(json.dumps(config))
    sc.start()
    wait_until(lambda: sc.health()["backends"]["lake"]["delivered_events"] >= len(events), 60, "the replay")
    wait_until(lambda: sc.lag("lake") == 0, 60, "the replay to settle")
    assert objects(moto, bucket) == first  # the same keys, byte for byte
    details = sc.health()["backends"]["lake"]["details"]
    assert details["puts_skipped_unchanged"] > 0  # parts the bucket held already were not written again


def test_s3_against_moto_emulator_stopped_mid_stream_lags_alone_then_everything_arrives(
    sidecar: Callable[..., SidecarProc], moto: MotoServer, tmp_path: Path
) -> None:
    bucket = new_bucket(moto, "outage")
    sc = sidecar(
        [
            {"type": "filesystem", "name": "files", "config": {"path": str(tmp_path / "files")}},
            s3_backend(moto, bucket, timeout=3, max_attempts=1),
        ],
        ingest={"max_batch_size": 100},
    )

    def first_stored(first: list[dict[str, Any]]) -> None:
        assert set(stored_events(moto, bucket)) == {e["event_id"] for e in first}

    def bucket_again() -> None:
        # moto keeps its state in memory: the restarted emulator has no bucket until it is made again
        # (the backend retries NoSuchBucket meanwhile, as it would for a real bucket someone recreates).
        client(moto, "s3").create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})

    outage = ride_out_outage(
        sc, "lake", tmp_path / "files", moto.stop, moto.start, after_first=first_stored, after_start=bucket_again
    )
    assert "s3://" in outage.error
    first, second = outage.first, outage.second
    stored = stored_events(moto, bucket)  # once each: asserted while reading
    assert {e["event_id"] for e in second} <= set(stored)
    # The objects of the span open before the outage were completed from the backend's memory, so
    # they hold the first events again although the emulator forgot them.
    assert set(stored) <= {e["event_id"] for e in first + second}


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _deliver(config: dict[str, Any], raws: list[bytes], first_seq: int = 0) -> tuple[S3Backend, Exception | None]:
    backend = S3Backend("lake", config)
    await backend.initialize()
    try:
        await backend.send_batch(Batch(raws, first_seq))
        return backend, None
    except PermanentError as exc:
        return backend, exc
    finally:
        await backend.close()


def test_s3_against_moto_emulator_event_without_partition_dead_lettered_alone(moto: MotoServer) -> None:
    bucket = new_bucket(moto, "refused")
    good = job_story()
    bad = dict(good[1], event_id=str(uuid.uuid4()), at="yesterday")  # no UTC hour to file it under
    raws = [json.dumps(e).encode() for e in (good[0], bad, *good[1:])]
    _, error = _run(_deliver({"bucket": bucket, "endpoint_url": moto.url}, raws))
    assert isinstance(error, PermanentError)
    assert list(error.rejected) == [1]
    assert "no S3 partition for this event" in error.rejected[1] and "'yesterday'" in error.rejected[1]
    assert set(stored_events(moto, bucket)) == {e["event_id"] for e in good}  # the neighbours are there


def test_s3_against_moto_emulator_large_object_goes_up_in_parts(moto: MotoServer) -> None:
    bucket = new_bucket(moto, "multipart")
    when = datetime(2026, 3, 1, 10, tzinfo=UTC)
    # Incompressible metadata, so the gzip object passes one 5 MiB part: 14 events of ~600 KB.
    big = [
        event(
            "progress",
            str(uuid.uuid4()),
            i,
            when + timedelta(seconds=i),
            metadata={"blob": base64.b64encode(os.urandom(450_000)).decode()},
        )
        for i in range(14)
    ]
    config = {
        "bucket": bucket,
        "endpoint_url": moto.url,
        "multipart_threshold_bytes": 1024,
        "multipart_part_bytes": 5 * 1024 * 1024,
    }
    backend, error = _run(_deliver(config, [json.dumps(e).encode() for e in big]))
    assert error is None and backend.multipart_uploads == 1
    ((key, body),) = objects(moto, bucket).items()
    assert len(body) > 5 * 1024 * 1024
    head = client(moto, "s3").head_object(Bucket=bucket, Key=key)
    assert head["ETag"].strip('"').endswith("-2")  # a multipart object of two parts
    assert ndjson_events(body) == big
    # An object over a small threshold but under one part goes up as a multipart upload of one part.
    small = job_story()
    config["multipart_threshold_bytes"] = 64
    backend, error = _run(_deliver(config, [json.dumps(e).encode() for e in small], first_seq=500))
    assert error is None and backend.multipart_uploads == 1
    assert len(objects(moto, bucket)) == 2


def test_s3_against_moto_emulator_kms_encryption_is_asked_with_the_key(moto: MotoServer) -> None:
    bucket = new_bucket(moto, "kms")
    key_id = client(moto, "kms").create_key()["KeyMetadata"]["KeyId"]
    config = {"bucket": bucket, "endpoint_url": moto.url, "sse": "aws:kms", "sse_kms_key_id": key_id}
    _, error = _run(_deliver(config, [json.dumps(e).encode() for e in job_story()]))
    assert error is None
    (key,) = objects(moto, bucket)
    head = client(moto, "s3").head_object(Bucket=bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms" and key_id in head["SSEKMSKeyId"]


def test_s3_against_moto_emulator_parquet_objects_read_back_by_column(
    sidecar: Callable[..., SidecarProc], moto: MotoServer
) -> None:
    bucket = new_bucket(moto, "parquet")
    events = mixed_events()
    sc = sidecar([s3_backend(moto, bucket, format="parquet")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("lake") == 0, 60, "delivery of Parquet objects")
    rows: dict[str, dict[str, Any]] = {}
    for key, body in objects(moto, bucket).items():
        assert key.endswith(".parquet")
        for row in pq.read_table(io.BytesIO(body)).to_pylist():
            rows[row["event_id"]] = row
    assert set(rows) == {e["event_id"] for e in events}
    for e in events:
        row = rows[e["event_id"]]
        assert json.loads(row["event"]) == e
        assert row["at"] == datetime.fromisoformat(e["at"])
        assert (row["site_id"], row["status"], row["app_name"]) == (e["site_id"], e["status"], e["app"]["name"])
        assert row["duration_s"] == (e.get("metrics") or {}).get("duration_s")


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"bucket": "Not_A_Bucket"}, "config.bucket"),
        ({"sse": "DES"}, "config.sse"),
        ({"multipart_part_bytes": 1024}, "config.multipart_part_bytes"),
        ({"endpoint_url": "moto:5000"}, "config.endpoint_url"),
        ({"object_events": 0}, "config.object_events"),
        ({"sse_kms_key_id": "k"}, "config.sse_kms_key_id"),
        ({"bukket": "x"}, "bukket"),
    ],
)
def test_s3_bad_config_fails_check_config_naming_the_key(tmp_path: Path, change: dict[str, Any], needle: str) -> None:
    config = {"bucket": "fab-events", "region": "eu-west-1", **change}
    path = tmp_path / "sidecar.json"
    backend = {"type": "s3", "name": "lake", "config": config}
    path.write_text(json.dumps({"spool": {"path": str(tmp_path / "spool")}, "backends": [backend]}))
    done = subprocess.run([SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True)
    assert done.returncode != 0 and needle in done.stderr and "lake" in done.stderr, done.stderr
