"""The rabbitmq backend against a real RabbitMQ node (Debian's rabbitmq-server, started once per
session): a mixed batch read back from a bound queue field by field, replays, nacks, unroutable
messages, a message the broker refuses for its size, a broker stopped mid-stream, --check-config."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rabbitmq_peer import MAX_MESSAGE_BYTES, RabbitNode, bind_queue, drain
from sidecar_tests_conftest import SIDECAR_EXE, SidecarProc, wait_until
from stage_fixtures import ride_out_outage

from wafermon_sidecar.backends.rabbitmq import message_properties, routing_key
from wafermon_testkit.events import event, job_story


def rabbit_backend(node: RabbitNode, exchange: str, **extra: Any) -> dict[str, Any]:
    return {"type": "rabbitmq", "name": "amqp", "config": {"url": node.url, "exchange": exchange, **extra}}


def mixed_events() -> list[dict[str, Any]]:
    """Jobs with sub-jobs, a failed job, unicode and nested metadata, a site id with dots in it."""
    start = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)
    events = job_story(start=start, subjobs=2, metadata={"recipe": "R-17", "lot": {"id": "L-9", "wafers": [1, 2]}})
    events += job_story(start=start + timedelta(hours=3), outcome="failed", app="gravure-ätz", site_id="fab.β#2")
    events.append(
        event("finished", str(uuid.uuid4()), 1, start, metadata={"operator": "Zoë 東京", "deep": {"a": {"b": 1.5}}})
    )
    return events


def dead_letters(sc: SidecarProc, name: str = "amqp") -> list[dict[str, Any]]:
    path = sc.spool_dir / "deadletter" / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_mixed_batch_reads_back_field_by_field(sidecar: Callable[..., SidecarProc], rabbit: RabbitNode) -> None:
    queue = bind_queue(rabbit.url, "mixed")
    events = mixed_events()
    sc = sidecar([rabbit_backend(rabbit, "mixed")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("amqp") == 0, 60, "delivery to RabbitMQ")
    assert sc.health()["backends"]["amqp"]["state"] == "ok"
    got = {m["message_id"]: m for m in drain(rabbit.url, queue, len(events))}
    assert sorted(got) == sorted(e["event_id"] for e in events)  # each once
    for e in events:
        message = got[e["event_id"]]
        assert json.loads(message["body"]) == e
        assert message["exchange"] == "mixed"
        assert message["routing_key"] == routing_key(e)
        assert message["routing_key"].split(".")[1:3] == [e["entity_type"], e["event_kind"]]
        assert message["content_type"] == "application/json" and message["delivery_mode"] == 2
        assert message["headers"] == {"schema": "wafermon.event/1", "event_kind": e["event_kind"],
                                      "entity_type": e["entity_type"]}  # fmt: skip
        props = message_properties(e)
        assert (message["app_id"], message["type"]) == (props["app_id"], props["type"])
    failed = [m for m in got.values() if m["routing_key"].endswith(".failed")]
    assert failed and all(m["routing_key"].startswith("fab%2Eβ%232.") for m in failed)  # dots escaped


def test_binding_patterns_select_by_routing_key(sidecar: Callable[..., SidecarProc], rabbit: RabbitNode) -> None:
    failures = bind_queue(rabbit.url, "select", "*.job.finished.failed")
    fab2 = bind_queue(rabbit.url, "select", "fab2.#")
    events = job_story(outcome="failed", site_id="fab2") + job_story(site_id="fab1")
    sc = sidecar([rabbit_backend(rabbit, "select")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("amqp") == 0, 60, "delivery")
    failed = [e["event_id"] for e in events if e["status"] == "failed" and e["entity_type"] == "job"]
    assert [m["message_id"] for m in drain(rabbit.url, failures, len(failed))] == failed
    on_fab2 = [e["event_id"] for e in events if e["site_id"] == "fab2"]
    assert [m["message_id"] for m in drain(rabbit.url, fab2, len(on_fab2))] == on_fab2  # one channel: in order


def test_replay_inside_the_window_publishes_nothing_twice(
    sidecar: Callable[..., SidecarProc], rabbit: RabbitNode
) -> None:
    queue = bind_queue(rabbit.url, "replay")
    events = mixed_events()
    sc = sidecar([rabbit_backend(rabbit, "replay")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("amqp") == 0, 60, "first delivery")
    assert sc.post(events).status_code == 202  # the same events again
    wait_until(lambda: sc.lag("amqp") == 0, 60, "the replay")
    backend = sc.health()["backends"]["amqp"]
    assert backend["state"] == "ok" and backend.get("dead_lettered_events", 0) == 0
    ids = [m["message_id"] for m in drain(rabbit.url, queue, len(events))]
    assert sorted(ids) == sorted(e["event_id"] for e in events)


def test_nacked_messages_are_sent_again_and_confirmed_ones_never(
    sidecar: Callable[..., SidecarProc], rabbit: RabbitNode
) -> None:
    # A queue at its length limit that refuses more: the broker nacks what does not fit.
    queue = bind_queue(rabbit.url, "nacks", arguments={"x-max-length": 4, "x-overflow": "reject-publish"})
    events = [e for _ in range(3) for e in job_story()]
    sc = sidecar([rabbit_backend(rabbit, "nacks")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: "nacked" in (sc.health()["backends"]["amqp"].get("last_error") or ""), 60, "nacks")
    status = sc.health()["backends"]["amqp"]
    assert status["state"] != "ok" and status["lag_events"] == len(events)  # the batch is not settled
    got = drain(rabbit.url, queue, len(events), timeout=120)  # room again: the rest arrives
    wait_until(lambda: sc.lag("amqp") == 0, 60, "everything confirmed")
    got += drain(rabbit.url, queue, 0, timeout=5)
    assert sorted(m["message_id"] for m in got) == sorted(e["event_id"] for e in events)  # none twice


def test_unroutable_with_mandatory_waits_for_a_queue(sidecar: Callable[..., SidecarProc], rabbit: RabbitNode) -> None:
    events = job_story()
    sc = sidecar([rabbit_backend(rabbit, "nobody", mandatory=True)])
    assert sc.post(events).status_code == 202
    wait_until(lambda: "unroutable" in (sc.health()["backends"]["amqp"].get("last_error") or ""), 60, "returns")
    assert sc.lag("amqp") == len(events)  # returned, not dropped
    queue = bind_queue(rabbit.url, "nobody")
    wait_until(lambda: sc.lag("amqp") == 0, 60, "delivery once a queue is bound")
    assert sorted(m["message_id"] for m in drain(rabbit.url, queue, len(events))) == sorted(
        e["event_id"] for e in events
    )


def test_unroutable_dead_lettered_when_configured(sidecar: Callable[..., SidecarProc], rabbit: RabbitNode) -> None:
    queue = bind_queue(rabbit.url, "partial", "fab1.#")
    kept = job_story(site_id="fab1")
    lost = event("finished", str(uuid.uuid4()), 1, datetime.now(UTC), site_id="fab9")
    sc = sidecar([rabbit_backend(rabbit, "partial", mandatory=True, unroutable="dead_letter")])
    assert sc.post([*kept[:1], lost, *kept[1:]]).status_code == 202
    wait_until(lambda: sc.lag("amqp") == 0, 60, "delivery past the unroutable message")
    (letter,) = dead_letters(sc)
    assert letter["event"]["event_id"] == lost["event_id"]
    assert "unroutable: no queue bound to exchange 'partial' for 'fab9.job.finished.succeeded'" in letter["reason"]
    assert [m["message_id"] for m in drain(rabbit.url, queue, len(kept))] == [e["event_id"] for e in kept]


def test_message_over_max_message_bytes_is_dead_lettered_unsent_and_neighbours_delivered_once(
    sidecar: Callable[..., SidecarProc], rabbit: RabbitNode
) -> None:
    queue = bind_queue(rabbit.url, "toolarge")
    events = job_story(subjobs=1)
    bad = event("finished", str(uuid.uuid4()), 1, datetime.now(UTC), metadata={"blob": "x" * (MAX_MESSAGE_BYTES + 1)})
    batch = [*events[:2], bad, *events[2:]]
    sc = sidecar([rabbit_backend(rabbit, "toolarge", max_message_bytes=MAX_MESSAGE_BYTES)])
    assert sc.post(batch).status_code == 202
    wait_until(lambda: sc.lag("amqp") == 0, 60, "delivery past the refused message")
    assert sc.health()["backends"]["amqp"]["dead_lettered_events"] == 1
    (letter,) = dead_letters(sc)
    assert letter["event"]["event_id"] == bad["event_id"]
    assert f"over config.max_message_bytes ({MAX_MESSAGE_BYTES})" in letter["reason"]
    got = drain(rabbit.url, queue, len(events))
    assert sorted(m["message_id"] for m in got) == sorted(e["event_id"] for e in events)


def test_message_the_broker_refuses_for_its_size_is_dead_lettered_with_its_reason(
    sidecar: Callable[..., SidecarProc], rabbit: RabbitNode
) -> None:
    # max_message_bytes above the node's own limit: the node closes the channel over the message.
    queue = bind_queue(rabbit.url, "brokersays")
    events = job_story(subjobs=1)
    bad = event("finished", str(uuid.uuid4()), 1, datetime.now(UTC), metadata={"blob": "x" * (MAX_MESSAGE_BYTES + 1)})
    batch = [*events[:2], bad, *events[2:]]
    sc = sidecar([rabbit_backend(rabbit, "brokersays")])
    assert sc.post(batch).status_code == 202
    wait_until(lambda: sc.lag("amqp") == 0, 60, "delivery past the refused message")
    assert sc.health()["backends"]["amqp"]["dead_lettered_events"] == 1
    (letter,) = dead_letters(sc)
    assert letter["event"]["event_id"] == bad["event_id"]
    assert "the broker refused the message" in letter["reason"] and "max size" in letter["reason"]
    got = [m["message_id"] for m in drain(rabbit.url, queue, len(events))]
    assert set(got) == {e["event_id"] for e in events}  # every neighbour arrived
    # Routed but unconfirmed when the channel closed: sent again, so a duplicate is possible, at most
    # one per unconfirmed message of the batch (documented; consumers de-duplicate on message_id).
    assert len(got) <= 2 * len(events), sc.health()["backends"]["amqp"]


def test_broker_stopped_mid_stream_lags_alone_then_everything_arrives(
    sidecar: Callable[..., SidecarProc], rabbit: RabbitNode, tmp_path: Path
) -> None:
    queue = bind_queue(rabbit.url, "outage")
    sc = sidecar(
        [
            {"type": "filesystem", "name": "files", "config": {"path": str(tmp_path / "files")}},
            rabbit_backend(rabbit, "outage", connect_timeout_s=3, confirm_timeout_s=10),
        ],
        ingest={"max_batch_size": 100},
    )
    everything = ride_out_outage(sc, "amqp", tmp_path / "files", rabbit.stop, rabbit.start).everything
    got = drain(rabbit.url, queue, len(everything))  # persistent messages in a durable queue: kept
    assert sorted(m["message_id"] for m in got) == sorted(e["event_id"] for e in everything)


def test_check_config_names_the_backend_and_the_key(tmp_path: Path) -> None:
    good = {
        "type": "rabbitmq",
        "name": "amqp",
        "config": {"url": "amqps://wafermon:${AMQP_PASSWORD}@mq.example:5671/fab", "exchange": "wafer"},
    }
    path = tmp_path / "sidecar.json"

    def check(backend: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        path.write_text(json.dumps({"spool": {"path": str(tmp_path / "spool")}, "backends": [backend]}))
        return subprocess.run(
            [SIDECAR_EXE, "--config", str(path), "--check-config"],
            capture_output=True,
            text=True,
            env={"AMQP_PASSWORD": "s3cret"},
        )

    done = check(good)
    assert done.returncode == 0, done.stderr
    for bad, key in (
        ({"url": "http://mq:5672/"}, "config.url"),
        ({"url": "amqp://mq/", "exchnage": "x"}, "exchnage"),
        ({"url": "amqp://mq/", "unroutable": "drop"}, "config.unroutable"),
        ({"url": "amqp://mq/", "confirm_timeout_s": 0}, "config.confirm_timeout_s"),
        ({"url": "amqp://mq/", "ca_file": "/etc/ssl/certs/ca-certificates.crt"}, "config.ca_file"),
    ):
        done = check({**good, "config": bad})
        assert done.returncode != 0 and key in done.stderr and "amqp" in done.stderr, (bad, done.stderr)


def test_broker_blocking_publishers_times_out_confirms_then_everything_arrives(
    sidecar: Callable[..., SidecarProc], rabbit: RabbitNode
) -> None:
    queue = bind_queue(rabbit.url, "blocked")
    sc = sidecar([rabbit_backend(rabbit, "blocked", confirm_timeout_s=2, connect_timeout_s=2)])
    warm = job_story()
    assert sc.post(warm).status_code == 202
    wait_until(lambda: sc.lag("amqp") == 0, 60, "delivery before the memory alarm")
    # A memory alarm: the broker stops reading from publishing connections, so no confirm comes.
    assert rabbit.ctl("set_vm_memory_high_watermark", "0").returncode == 0
    try:
        events = [e for _ in range(5) for e in job_story()]
        assert sc.post(events).status_code == 202
        wait_until(
            lambda: "did not confirm" in (sc.health()["backends"]["amqp"].get("last_error") or ""), 60, "timeout"
        )
        assert sc.lag("amqp") == len(events)
    finally:
        assert rabbit.ctl("set_vm_memory_high_watermark", "0.9").returncode == 0
    wait_until(lambda: sc.lag("amqp") == 0, 120, "delivery once the alarm clears")
    got = [m["message_id"] for m in drain(rabbit.url, queue, len(warm) + len(events))]
    assert set(got) == {e["event_id"] for e in warm + events}
    assert len(got) == len(warm) + len(events)  # nothing was confirmed during the alarm: none sent twice


def test_amqps_with_the_ca_file_delivers_and_without_it_the_certificate_is_refused(
    sidecar: Callable[..., SidecarProc], rabbit: RabbitNode
) -> None:
    queue = bind_queue(rabbit.url, "tls")
    events = job_story()
    untrusted = sidecar([{**rabbit_backend(rabbit, "tls", url=rabbit.tls_url), "name": "untrusted"}])
    assert untrusted.post(events).status_code == 202
    wait_until(lambda: untrusted.health()["backends"]["untrusted"].get("last_error"), 60, "the TLS failure")
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.health()["backends"]["untrusted"]["last_error"]
    assert untrusted.lag("untrusted") == len(events)
    trusted = sidecar([rabbit_backend(rabbit, "tls", url=rabbit.tls_url, ca_file=str(rabbit.tls.ca))])
    assert trusted.post(events).status_code == 202
    wait_until(lambda: trusted.lag("amqp") == 0, 60, "delivery over TLS")
    assert [m["message_id"] for m in drain(rabbit.url, queue, len(events))] == [e["event_id"] for e in events]
