"""The nats backend against a real nats-server with JetStream (started once per session): a mixed
batch read back message by message, replays within and beyond the de-duplication window, a server
stopped mid-stream, messages refused for good."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js.api import DiscardPolicy, StreamConfig
from nats_peer import MAX_PAYLOAD, NatsServer
from sidecar_tests_conftest import SIDECAR_EXE, SidecarProc, wait_until
from stage_fixtures import ride_out_outage

from wafermon_sidecar.backends import Batch
from wafermon_sidecar.backends.base import PermanentError, TransientError
from wafermon_sidecar.backends.nats_jetstream import NatsBackend
from wafermon_sidecar.backends.nats_subjects import subject_for
from wafermon_testkit.events import event, job_story
from wafermon_testkit.pki import make_pki


def nats_backend(server: NatsServer, stream: str, **extra: Any) -> dict[str, Any]:
    return {"type": "nats", "name": "bus", "config": server.backend_config(stream, **extra)}


def mixed_events() -> list[dict[str, Any]]:
    """Jobs with sub-jobs, a failed job, unicode, a site with a dot and a space, nested metadata."""
    day1 = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)
    events = job_story(start=day1, subjobs=2, metadata={"recipe": "R-17", "lot": {"id": "L-9", "wafers": [1, 2]}})
    events += job_story(start=day1 + timedelta(hours=3), outcome="failed", app="gravure-ätz", site_id="fab-β")
    events += job_story(start=day1, progress_steps=0, site_id="fab 2.north*>")
    events.append(
        event("finished", str(uuid.uuid4()), 1, day1, metadata={"operator": "Zoë 東京", "deep": {"a": [1.5]}})
    )
    return events


def test_mixed_batch_reads_back_message_by_message(
    sidecar: Callable[..., SidecarProc], nats_server: NatsServer
) -> None:
    events = mixed_events()
    backend = nats_backend(nats_server, "MIXED")
    sc = sidecar([backend])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("bus") == 0, 60, "delivery to NATS")
    assert sc.health()["backends"]["bus"]["state"] == "ok"
    messages = nats_server.messages("MIXED")
    assert len(messages) == len(events)
    by_id = {m["headers"]["Nats-Msg-Id"]: m for m in messages}
    template = backend["config"]["subject"]
    for e in events:
        message = by_id[e["event_id"]]
        assert json.loads(message["data"]) == e  # the event as sent
        assert message["subject"] == subject_for(template, e)
        assert message["headers"]["Content-Type"] == "application/json"
    subjects = {m["subject"] for m in messages}
    assert "mixed.fab-%CE%B2.job.finished" in subjects  # UTF-8 escaped
    assert "mixed.fab%202%2Enorth%2A%3E.job.started" in subjects  # space, dot and wildcards escaped
    assert "mixed.fab1.subjob.started" in subjects
    info = nats_server.stream_info("MIXED")
    assert info.config.subjects == ["mixed.*.*.*"] and info.config.duplicate_window == 120


def test_replay_within_the_window_adds_no_message(sidecar: Callable[..., SidecarProc], nats_server: NatsServer) -> None:
    events = mixed_events()
    sc = sidecar([nats_backend(nats_server, "REPLAY")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("bus") == 0, 60, "first delivery")
    before = nats_server.messages("REPLAY")
    assert len(before) == len(events)
    assert sc.post(events).status_code == 202  # the same events again
    wait_until(lambda: sc.lag("bus") == 0, 60, "the replay")
    backend = sc.health()["backends"]["bus"]
    assert backend["state"] == "ok" and backend.get("dead_lettered_events", 0) == 0
    assert nats_server.messages("REPLAY") == before
    assert nats_server.stream_info("REPLAY").state.messages == len(events)


def run_backend(
    server: NatsServer, stream: str, batches: list[list[dict[str, Any]]], **config: Any
) -> list[dict[int, str]]:
    """Sends each batch through a NatsBackend in this process (pausing `pause` s between batches); the
    rejected map of each (empty: all taken)."""
    pause = config.pop("pause", 0.0)

    async def go() -> list[dict[int, str]]:
        backend = NatsBackend("bus", server.backend_config(stream, **config))
        await backend.initialize()
        results = []
        try:
            for n, events in enumerate(batches):
                if n:
                    await asyncio.sleep(pause)
                try:
                    await backend.send_batch(Batch([json.dumps(e).encode() for e in events]))
                    results.append({})
                except PermanentError as exc:
                    results.append(exc.rejected)
        finally:
            await backend.close()
        return results

    return asyncio.run(go())


def test_a_replay_older_than_the_window_is_stored_again(nats_server: NatsServer) -> None:
    """The stated limit of JetStream de-duplication: past duplicate_window the same Msg-Id is new."""
    events = job_story(progress_steps=0)
    results = run_backend(nats_server, "SHORTWIN", [events, events, events], duplicate_window_s=1, pause=0.0)
    assert results == [{}, {}, {}]
    assert nats_server.stream_info("SHORTWIN").state.messages == len(events)  # within the window: once
    time.sleep(1.5)
    run_backend(nats_server, "SHORTWIN", [events])
    assert nats_server.stream_info("SHORTWIN").state.messages == 2 * len(events)


def test_refused_messages_are_dead_lettered_and_neighbours_delivered(
    sidecar: Callable[..., SidecarProc], nats_server: NatsServer
) -> None:
    good = [e for _ in range(5) for e in job_story(subjobs=1)]
    over_stream_limit = event("started", str(uuid.uuid4()), 0, datetime.now(UTC), metadata={"blob": "x" * 6000})
    over_payload = event(
        "started", str(uuid.uuid4()), 0, datetime.now(UTC), metadata={"blob": "y" * (MAX_PAYLOAD + 10)}
    )
    batch = [*good[:7], over_stream_limit, *good[7:20], over_payload, *good[20:]]
    sc = sidecar([nats_backend(nats_server, "REFUSE", max_msg_size=4096)])
    assert sc.post(batch).status_code == 202
    wait_until(lambda: sc.lag("bus") == 0, 60, "delivery past the refused messages")
    assert sc.health()["backends"]["bus"]["dead_lettered_events"] == 2
    lines = [json.loads(x) for x in (sc.spool_dir / "deadletter" / "bus.jsonl").read_text().splitlines()]
    assert [x["event"]["event_id"] for x in lines] == [over_stream_limit["event_id"], over_payload["event_id"]]
    assert lines[0]["reason"].startswith(
        "the stream refused the message: the message is larger than the stream's max_msg_size (JetStream error 10054"
    )
    assert lines[1]["reason"].endswith(f"over the server's max_payload ({MAX_PAYLOAD})")
    stored = [m["headers"]["Nats-Msg-Id"] for m in nats_server.messages("REFUSE")]
    assert sorted(stored) == sorted(e["event_id"] for e in good)  # each neighbour once


def test_unreachable_server_is_a_transient_error_naming_it() -> None:
    async def go() -> str:
        backend = NatsBackend("bus", {"servers": ["nats://127.0.0.1:1"], "connect_timeout": 1})
        await backend.initialize()
        try:
            await backend.send_batch(Batch([json.dumps(job_story()[0]).encode()]))
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return "no error"

    started = time.monotonic()
    message = asyncio.run(go())
    assert message.startswith("TransientError: nats nats://127.0.0.1:1: cannot connect:"), message
    assert time.monotonic() - started < 10  # tried, not retried forever


def test_server_stopped_mid_stream_lags_alone_then_everything_arrives_once(
    sidecar: Callable[..., SidecarProc], nats_server: NatsServer, tmp_path: Path
) -> None:
    sc = sidecar(
        [
            {"type": "filesystem", "name": "files", "config": {"path": str(tmp_path / "files")}},
            nats_backend(nats_server, "OUTAGE", ack_timeout=2, connect_timeout=1),
        ],
        ingest={"max_batch_size": 100},
    )
    everything = ride_out_outage(sc, "bus", tmp_path / "files", nats_server.stop, nats_server.start).everything
    stored = [m["headers"]["Nats-Msg-Id"] for m in nats_server.messages("OUTAGE")]
    assert sorted(stored) == sorted(e["event_id"] for e in everything)  # once each


def test_config_errors_name_the_backend_and_the_key(tmp_path: Path) -> None:
    def check(config: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "sidecar.json"
        backend = {"type": "nats", "name": "bus", "config": config}
        path.write_text(json.dumps({"spool": {"path": str(tmp_path / "spool")}, "backends": [backend]}))
        return subprocess.run(
            [SIDECAR_EXE, "--config", str(path), "--check-config"],
            capture_output=True,
            text=True,
            env={"NATS_TOKEN": "s"},
        )

    good = {"servers": ["nats://bus.example:4222"], "token": "${NATS_TOKEN}", "stream": "FAB1"}
    assert check(good).returncode == 0, check(good).stderr
    for key, value in (("subject", "a.{lot}"), ("stream", "a.b"), ("servers", ["http://x"]), ("ack_timout", 1)):
        done = check({**good, key: value})
        assert done.returncode != 0 and f"config.{key}" in done.stderr and "'bus'" in done.stderr, (key, done.stderr)


def test_failed_acks_are_retried_alone(nats_server: NatsServer) -> None:
    """A stream that refuses for now (full, discard new): the messages it took are not sent again,
    the others are once it has room (none acked as a duplicate, none stored twice)."""
    events = [e for _ in range(3) for e in job_story(subjobs=1)]  # 18 events

    async def go() -> tuple[str, int, int]:
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        await js.add_stream(StreamConfig(name="FULL", subjects=["full.*.*.*"], max_msgs=5, discard=DiscardPolicy.NEW))
        backend = NatsBackend("bus", nats_server.backend_config("FULL", publish_retries=1, create_stream=False))
        batch = Batch([json.dumps(e).encode() for e in events])
        try:
            await backend.send_batch(batch)
            first = "no error"
        except TransientError as exc:
            first = str(exc)
        await js.update_stream(
            StreamConfig(name="FULL", subjects=["full.*.*.*"], max_msgs=-1, discard=DiscardPolicy.NEW)
        )
        await backend.send_batch(batch)  # the worker's retry of the same batch
        duplicates = backend.duplicates
        await backend.close()
        stored = (await js.stream_info("FULL")).state.messages
        await nc.close()
        return first, duplicates, stored

    first, duplicates, stored = asyncio.run(go())
    assert first.startswith("13 of 18 message(s) not acked after 2 attempt(s); the last reason: JetStream error"), first
    assert (duplicates, stored) == (0, len(events))
    ids = [m["headers"]["Nats-Msg-Id"] for m in nats_server.messages("FULL")]
    assert sorted(ids) == sorted(e["event_id"] for e in events)


def test_mutual_tls_with_the_servers_ca(tmp_path: Path) -> None:
    """A server that requires TLS and a client certificate: delivered with ca_file + cert_file +
    key_file (the host name checked); refused without the certificate or with the system's CAs."""
    pki = make_pki(tmp_path / "pki")
    server = NatsServer(tmp_path / "nats-tls", tls=pki)
    server.start()
    try:
        base = {"servers": [f"tls://127.0.0.1:{server.port}"], "connect_timeout": 2}
        events = job_story(progress_steps=0)
        mtls = {**base, "ca_file": str(pki.ca), "cert_file": str(pki.client_cert), "key_file": str(pki.client_key)}
        assert run_backend(server, "TLS", [events], **mtls) == [{}]
        assert run_backend(server, "TLS", [events], **mtls) == [{}]  # a replay over TLS: no new message

        async def info() -> int:
            context = ssl.create_default_context(cafile=str(pki.ca))
            context.load_cert_chain(str(pki.client_cert), str(pki.client_key))
            nc = await nats.connect(base["servers"][0], tls=context)
            try:
                return int((await nc.jetstream().stream_info("TLS")).state.messages)
            finally:
                await nc.close()

        assert asyncio.run(info()) == len(events)
        for config in ({**base, "ca_file": str(pki.ca)}, {**base, "tls": True}):  # no client certificate; unknown CA
            with pytest.raises(TransientError, match=r"^nats tls://127\.0\.0\.1:\d+: cannot connect"):
                run_backend(server, "TLS", [events], **config)
    finally:
        server.stop()


def test_a_memory_stream_lost_with_its_server_is_added_again(nats_server: NatsServer) -> None:
    """storage: memory keeps nothing over a server restart: the backend finds no stream answering,
    adds it again, and the batch is delivered (the ones before are gone with the server's memory)."""
    first, second = job_story(progress_steps=0), job_story(progress_steps=0)

    async def go() -> None:
        backend = NatsBackend("bus", nats_server.backend_config("MEM", storage="memory", connect_timeout=2))
        try:
            await backend.send_batch(Batch([json.dumps(e).encode() for e in first]))
            nats_server.stop()
            nats_server.start()
            await backend.send_batch(Batch([json.dumps(e).encode() for e in second]))
        finally:
            await backend.close()

    asyncio.run(go())
    stored = [m["headers"]["Nats-Msg-Id"] for m in nats_server.messages("MEM")]
    assert stored == [e["event_id"] for e in second]
