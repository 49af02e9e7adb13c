"""The redis backend against a real Redis server (Debian's redis-server, started once per session):
a mixed batch read back with XRANGE field by field, replays inside and without the de-duplication
window, the MAXLEN ~ cap, the pub/sub channel, an event over the size limit, a server stopped
mid-stream, a server out of memory, --check-config."""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from redis_peer import RedisServer
from sidecar_tests_conftest import SIDECAR_EXE, SidecarProc, wait_until
from stage_fixtures import ride_out_outage
from tls_certs import make_tls_files

from wafermon_sidecar.backends.redis_streams import entry_fields
from wafermon_testkit.events import event, job_story


def redis_backend(server: RedisServer, stream: str, **extra: Any) -> dict[str, Any]:
    return {"type": "redis", "name": "streams", "config": {"url": server.url, "stream": stream, **extra}}


def mixed_events() -> list[dict[str, Any]]:
    """Jobs with sub-jobs, a failed job, unicode and nested metadata."""
    start = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)
    events = job_story(start=start, subjobs=2, metadata={"recipe": "R-17", "lot": {"id": "L-9", "wafers": [1, 2]}})
    events += job_story(start=start + timedelta(hours=3), outcome="failed", app="gravure-ätz", site_id="fab-β")
    events.append(
        event("finished", str(uuid.uuid4()), 1, start, metadata={"operator": "Zoë 東京", "deep": {"a": {"b": 1.5}}})
    )
    return events


def entries(server: RedisServer, stream: str) -> list[tuple[str, dict[str, bytes]]]:
    with server.client() as client:
        return [(i.decode(), {k.decode(): v for k, v in f.items()}) for i, f in client.xrange(stream)]


def stream_ids(server: RedisServer, stream: str) -> list[str]:
    return [json.loads(fields["event"])["event_id"] for _, fields in entries(server, stream)]


def test_mixed_batch_reads_back_field_by_field(sidecar: Callable[..., SidecarProc], redis_server: RedisServer) -> None:
    events = mixed_events()
    sc = sidecar([redis_backend(redis_server, "mixed")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("streams") == 0, 60, "delivery to Redis")
    assert sc.health()["backends"]["streams"]["state"] == "ok"
    got = entries(redis_server, "mixed")
    assert [json.loads(f["event"])["event_id"] for _, f in got] == [e["event_id"] for e in events]  # in order
    for (entry_id, fields), e in zip(got, events, strict=True):
        assert json.loads(fields["event"]) == e
        assert list(fields) == ["event", "event_id", "site_id", "entity_type", "event_kind", "status", "at"]
        assert fields["event_id"].decode() == e["event_id"] and fields["at"].decode() == e["at"]
        assert fields["site_id"].decode() == e["site_id"] and fields["status"].decode() == e["status"]
        assert fields["entity_type"].decode() == e["entity_type"]
        assert fields["event_kind"].decode() == e["event_kind"]
        assert [(k, v) for k, v in fields.items()][1:] == entry_fields(e, b"")[1:]
        with redis_server.client() as client:  # the de-duplication key names the entry
            assert client.get(f"mixed:seen:{e['event_id']}") == entry_id.encode()
            assert 0 < client.ttl(f"mixed:seen:{e['event_id']}") <= 86400


def test_replay_inside_the_window_adds_nothing(sidecar: Callable[..., SidecarProc], redis_server: RedisServer) -> None:
    events = mixed_events()
    sc = sidecar([redis_backend(redis_server, "replay", dedup_window_s=600)])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("streams") == 0, 60, "first delivery")
    before = entries(redis_server, "replay")
    assert sc.post(events).status_code == 202  # the same events again
    wait_until(lambda: sc.lag("streams") == 0, 60, "the replay")
    backend = sc.health()["backends"]["streams"]
    assert backend["state"] == "ok" and backend.get("dead_lettered_events", 0) == 0
    assert entries(redis_server, "replay") == before  # the same entries, the same ids
    with redis_server.client() as client:
        assert 500 < client.ttl(f"replay:seen:{events[0]['event_id']}") <= 600  # the window, stated


def test_without_the_window_a_replay_adds_each_event_once_more(
    sidecar: Callable[..., SidecarProc], redis_server: RedisServer
) -> None:
    events = job_story()
    sc = sidecar([redis_backend(redis_server, "nodedup", dedup_window_s=0)])
    for _ in range(2):
        assert sc.post(events).status_code == 202
        wait_until(lambda: sc.lag("streams") == 0, 60, "delivery")
    ids = [e["event_id"] for e in events]
    assert stream_ids(redis_server, "nodedup") == ids + ids  # the documented duplicate, bounded by the replay
    with redis_server.client() as client:
        assert client.keys("nodedup:seen:*") == []


def test_maxlen_caps_the_stream_approximately(sidecar: Callable[..., SidecarProc], redis_server: RedisServer) -> None:
    events = [e for _ in range(200) for e in job_story(progress_steps=3)]  # 1000 events
    sc = sidecar([redis_backend(redis_server, "capped", maxlen=100)])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("streams") == 0, 60, "delivery")
    with redis_server.client() as client:
        length = client.xlen("capped")
        node_entries = int(client.config_get("stream-node-max-entries")["stream-node-max-entries"])
    # `~`: whole nodes are trimmed, so the stream keeps at least maxlen and less than one node more.
    assert 100 <= length < 100 + node_entries, length
    assert stream_ids(redis_server, "capped") == [e["event_id"] for e in events][-length:]  # the newest kept


def test_pubsub_channel_gets_each_added_event_once(
    sidecar: Callable[..., SidecarProc], redis_server: RedisServer
) -> None:
    events = job_story(outcome="failed") + job_story()
    received: list[tuple[str, dict[str, Any]]] = []
    client = redis_server.client()
    pubsub = client.pubsub()
    pubsub.psubscribe("live.*")
    assert pubsub.get_message(timeout=10)["type"] == "psubscribe"  # type: ignore[index]
    stop = threading.Event()

    def listen() -> None:
        while not stop.is_set():
            message = pubsub.get_message(timeout=0.2)
            if message and message["type"] == "pmessage":
                received.append((message["channel"].decode(), json.loads(message["data"])))

    listener = threading.Thread(target=listen)
    listener.start()
    try:
        sc = sidecar([redis_backend(redis_server, "live", pubsub_channel="live.{site_id}.{status}")])
        assert sc.post(events).status_code == 202
        wait_until(lambda: sc.lag("streams") == 0, 60, "delivery")
        assert sc.post(events).status_code == 202  # a replay: nothing added, nothing published
        wait_until(lambda: sc.lag("streams") == 0, 60, "the replay")
        wait_until(lambda: len(received) >= len(events), 30, "the live messages")
    finally:
        stop.set()
        listener.join()
        pubsub.close()
        client.close()
    assert [m for _, m in received] == events
    assert [c for c, _ in received] == [f"live.{e['site_id']}.{e['status']}" for e in events]


def test_event_over_max_event_bytes_is_dead_lettered_and_neighbours_delivered(
    sidecar: Callable[..., SidecarProc], redis_server: RedisServer
) -> None:
    events = job_story(subjobs=1)
    bad = event("finished", str(uuid.uuid4()), 1, datetime.now(UTC), metadata={"blob": "x" * 5000})
    sc = sidecar([redis_backend(redis_server, "toolarge", max_event_bytes=4096)])
    assert sc.post([*events[:2], bad, *events[2:]]).status_code == 202
    wait_until(lambda: sc.lag("streams") == 0, 60, "delivery past the refused event")
    assert sc.health()["backends"]["streams"]["dead_lettered_events"] == 1
    path = sc.spool_dir / "deadletter" / "streams.jsonl"
    (letter,) = [json.loads(line) for line in path.read_text().splitlines()]
    assert letter["event"]["event_id"] == bad["event_id"]
    assert "over config.max_event_bytes (4096)" in letter["reason"]
    assert stream_ids(redis_server, "toolarge") == [e["event_id"] for e in events]


def test_wrong_type_at_the_stream_key_holds_the_batch_until_fixed(
    sidecar: Callable[..., SidecarProc], redis_server: RedisServer
) -> None:
    with redis_server.client() as client:
        client.set("occupied", "not a stream")
    events = job_story()
    sc = sidecar([redis_backend(redis_server, "occupied")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: "another type" in (sc.health()["backends"]["streams"].get("last_error") or ""), 60, "error")
    assert sc.lag("streams") == len(events)
    with redis_server.client() as client:
        client.delete("occupied")
    wait_until(lambda: sc.lag("streams") == 0, 60, "delivery once the key is free")
    assert stream_ids(redis_server, "occupied") == [e["event_id"] for e in events]


def test_server_stopped_mid_stream_lags_alone_then_everything_arrives_once(
    sidecar: Callable[..., SidecarProc], redis_server: RedisServer, tmp_path: Path
) -> None:
    sc = sidecar(
        [
            {"type": "filesystem", "name": "files", "config": {"path": str(tmp_path / "files")}},
            redis_backend(redis_server, "outage", timeout_s=3, connect_timeout_s=3),
        ],
        ingest={"max_batch_size": 100},
    )
    outage = ride_out_outage(sc, "streams", tmp_path / "files", redis_server.stop, redis_server.start)
    everything = outage.everything
    assert stream_ids(redis_server, "outage") == [e["event_id"] for e in everything]  # once each, in order


def test_check_config_names_the_backend_and_the_key(tmp_path: Path) -> None:
    good = {
        "type": "redis",
        "name": "streams",
        "config": {"url": "rediss://wafermon:${REDIS_PASSWORD}@cache.example:6380/0", "stream": "fab1:events"},
    }
    path = tmp_path / "sidecar.json"

    def check(backend: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        path.write_text(json.dumps({"spool": {"path": str(tmp_path / "spool")}, "backends": [backend]}))
        return subprocess.run(
            [SIDECAR_EXE, "--config", str(path), "--check-config"],
            capture_output=True,
            text=True,
            env={"REDIS_PASSWORD": "s3cret"},
        )

    done = check(good)
    assert done.returncode == 0, done.stderr
    for bad, key in (
        ({"url": "http://cache:6379/"}, "config.url"),
        ({"url": "redis://cache/", "max_len": 5}, "max_len"),
        ({"url": "redis://cache/", "maxlen": 10}, "config.maxlen"),
        ({"url": "redis://cache/", "dedup_window_s": -1}, "config.dedup_window_s"),
        ({"url": "redis://cache/", "pubsub_channel": "x.{host}"}, "config.pubsub_channel"),
        ({"url": "redis://cache/", "ca_file": "/etc/ssl/certs/ca-certificates.crt"}, "config.ca_file"),
    ):
        done = check({**good, "config": bad})
        assert done.returncode != 0 and key in done.stderr and "streams" in done.stderr, (bad, done.stderr)


def test_server_out_of_memory_holds_the_batch_and_writes_nothing_until_memory_is_back(
    sidecar: Callable[..., SidecarProc], redis_server: RedisServer
) -> None:
    events = job_story(subjobs=1)
    with redis_server.client() as client:
        limit = client.config_get("maxmemory")["maxmemory"]
        client.config_set("maxmemory", "1")  # every write is over it (noeviction)
    try:
        sc = sidecar([redis_backend(redis_server, "oom")])
        assert sc.post(events).status_code == 202
        wait_until(lambda: "out of memory" in (sc.health()["backends"]["streams"].get("last_error") or ""), 60, "OOM")
        assert sc.lag("streams") == len(events)
        with redis_server.client() as client:
            assert client.exists("oom") == 0 and client.keys("oom:seen:*") == []  # refused whole, nothing half
    finally:
        with redis_server.client() as client:
            client.config_set("maxmemory", limit)
    wait_until(lambda: sc.lag("streams") == 0, 60, "delivery once memory is back")
    assert stream_ids(redis_server, "oom") == [e["event_id"] for e in events]


def test_rediss_with_the_ca_file_delivers_and_without_it_the_certificate_is_refused(
    sidecar: Callable[..., SidecarProc], tmp_path: Path
) -> None:
    server = RedisServer(tmp_path / "tls-redis", make_tls_files(tmp_path / "tls"))
    server.start()
    try:
        events = job_story()
        untrusted = sidecar([{**redis_backend(server, "tls"), "name": "untrusted"}])
        assert untrusted.post(events).status_code == 202
        wait_until(lambda: untrusted.health()["backends"]["untrusted"].get("last_error"), 60, "the TLS failure")
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.health()["backends"]["untrusted"]["last_error"]
        assert untrusted.lag("untrusted") == len(events)
        assert server.tls is not None
        trusted = sidecar([redis_backend(server, "tls", ca_file=str(server.tls.ca))])
        assert trusted.post(events).status_code == 202
        wait_until(lambda: trusted.lag("streams") == 0, 60, "delivery over TLS")
        assert stream_ids(server, "tls") == [e["event_id"] for e in events]
    finally:
        server.stop()
