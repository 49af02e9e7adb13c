"""A size refusal is never final for a batch, and a refusal of single events dead-letters only those.

360 events of ~50 KB (18 MB together, over the gateway's 16 MiB body limit) are all stored by the real
gateway: the sidecar caps each request by bytes, and when a receiver's limit is lower than the cap it
answers 413 and the sidecar sends each half again. Only one event too large for any request is
dead-lettered, with its own reason; a configuration above the receiver's documented limit is refused.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import SIDECAR_EXE, GatewayProc, ReceiverProc, SidecarProc, make_events, wait_until

BIG_EVENTS = 360
PAD_BYTES = 50_000


def big_events(n: int, pad: int = PAD_BYTES) -> list[dict[str, Any]]:
    # stamped now: the gateway keeps raw events only within its retention window
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return make_events(n, metadata={"pad": "x" * pad}, at=now)


def post_all(sc: SidecarProc, events: list[dict[str, Any]], per_request: int = 60) -> None:
    for i in range(0, len(events), per_request):
        r = sc.post(events[i : i + per_request])
        assert r.status_code == 202, r.text


def dead_letters(sc: SidecarProc, backend: str) -> list[dict[str, Any]]:
    path = sc.spool_dir / "deadletter" / f"{backend}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_360_events_of_50_kb_are_all_stored_by_the_real_gateway(
    sidecar: Callable[..., SidecarProc], gateway: Callable[..., GatewayProc]
) -> None:
    gw = gateway()
    sc = sidecar([{"type": "managed_api", "name": "gw", "config": {"url": gw.url, "timeout": 60}}])
    events = big_events(BIG_EVENTS)
    assert sum(len(json.dumps(e)) for e in events) > 16 * 1024 * 1024  # together over the gateway's limit
    post_all(sc, events)
    wait_until(lambda: sc.lag("gw") == 0, 120, "delivery to the gateway")
    status = sc.health()["backends"]["gw"]
    assert status["dead_lettered_events"] == 0 and dead_letters(sc, "gw") == [], status["last_error"]
    assert gw.stored([e["event_id"] for e in events]) == BIG_EVENTS


def test_a_413_from_the_real_gateway_splits_the_batch_until_it_fits(
    sidecar: Callable[..., SidecarProc], gateway: Callable[..., GatewayProc]
) -> None:
    # The gateway's limit is lowered below the sidecar's byte cap: its 413s are what makes the split.
    gw = gateway(max_body_bytes=2 * 1024 * 1024)
    cap = 16 * 1024 * 1024 - 1024  # the most a managed_api backend may be configured with
    sc = sidecar(
        [{"type": "managed_api", "name": "gw", "max_batch_bytes": cap, "config": {"url": gw.url, "timeout": 60}}],
        ingest={"flush_interval": 1.0},  # let the whole backlog gather into one oversized batch
    )
    events = big_events(BIG_EVENTS)
    post_all(sc, events)
    wait_until(lambda: sc.lag("gw") == 0, 120, "delivery to the gateway")
    status = sc.health()["backends"]["gw"]
    assert status["dead_lettered_events"] == 0, status["last_error"]
    assert gw.stored([e["event_id"] for e in events]) == BIG_EVENTS
    assert status["max_batch_bytes"] <= 2 * 1024 * 1024  # later batches are capped below the refused size
    assert "refused as too large" in sc.log()


def test_webhook_413_splits_and_only_an_event_too_large_alone_is_dead_lettered(
    sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc]
) -> None:
    hook = receiver("hook", max_body=80_000)  # one ~50 KB event fits in a request, two do not
    sc = sidecar(
        [{"type": "webhook", "name": "hook", "config": {"webhook_url": hook.url}}],
        ingest={"max_batch_size": 500, "flush_interval": 0.5},
    )
    events = big_events(40)
    too_large = big_events(1, pad=85_000)  # under the sidecar's 96 KiB per event, over the receiver's limit
    post_all(sc, events[:20] + too_large + events[20:])
    wait_until(lambda: sc.lag("hook") == 0, 60, "delivery to the receiver")
    assert sorted(hook.event_ids()) == sorted(e["event_id"] for e in events)
    lines = dead_letters(sc, "hook")
    assert [x["event"]["event_id"] for x in lines] == [too_large[0]["event_id"]]
    assert "HTTP 413" in lines[0]["reason"] and "only this event" in lines[0]["reason"], lines[0]["reason"]
    assert sc.health()["backends"]["hook"]["dead_lettered_events"] == 1


@pytest.mark.parametrize("backend_type", ["managed_api", "webhook"])
def test_a_400_naming_each_refused_event_dead_letters_each_with_its_own_reason(
    backend_type: str, sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc]
) -> None:
    # Like the real gateway, the stand-in answers 400 with a per-event list when it takes none of them.
    stand_in = receiver("stand_in", gateway=True)
    config = (
        {"url": f"http://127.0.0.1:{stand_in.port}"} if backend_type == "managed_api" else {"webhook_url": stand_in.url}
    )
    sc = sidecar([{"type": backend_type, "name": "out", "config": config}])
    refused = make_events(5, metadata={"reject": True})
    assert sc.post(refused).status_code == 202
    wait_until(lambda: sc.lag("out") == 0, 30, "the backend to settle the batch")
    good = make_events(7)
    mixed = make_events(2, metadata={"reject": True})
    assert sc.post(good[:3] + mixed[:1] + good[3:] + mixed[1:]).status_code == 202
    wait_until(lambda: sc.lag("out") == 0, 30, "the backend to settle the second batch")
    lines = dead_letters(sc, "out")
    assert sorted(x["event"]["event_id"] for x in lines) == sorted(e["event_id"] for e in refused + mixed)
    for line in lines:  # each reason is that event's own, not the first error of its batch
        assert line["reason"].endswith(f"rejected by the stand-in: event {line['event']['event_id']}"), line
        assert "(metadata)" in line["reason"]
    assert sorted(stand_in.event_ids()) == sorted(e["event_id"] for e in good)
    status = sc.health()["backends"]["out"]
    assert status["dead_lettered_events"] == 7 and status["delivered_events"] == 7


@pytest.mark.parametrize(
    ("backend", "ingest", "needle"),
    [
        ({"max_batch_size": 20_000}, {}, "backends[gw].max_batch_size is 20000"),
        ({}, {"max_batch_size": 20_000}, "ingest.max_batch_size (backend 'gw') is 20000"),
        ({"max_batch_bytes": 32 * 1024 * 1024}, {}, "backends[gw].max_batch_bytes is 33554432"),
        ({}, {"max_batch_bytes": 17 * 1024 * 1024}, "ingest.max_batch_bytes (backend 'gw')"),
    ],
)
def test_a_batch_size_above_the_gateways_limit_is_refused_at_start(
    backend: dict[str, int], ingest: dict[str, int], needle: str, tmp_path: Path
) -> None:
    config = {
        "ingest": ingest,
        "spool": {"path": str(tmp_path / "spool")},
        "backends": [{"type": "managed_api", "name": "gw", "config": {"url": "http://127.0.0.1:1"}, **backend}],
    }
    path = tmp_path / "sidecar.json"
    path.write_text(json.dumps(config))
    done = subprocess.run([SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True)
    assert done.returncode == 2 and needle in done.stderr, done.stderr
    assert "receiver takes at most" in done.stderr
    # the same numbers are fine for a webhook, whose receiver documents no limit (413 splits instead)
    config["backends"] = [{"type": "webhook", "name": "gw", "config": {"webhook_url": "http://127.0.0.1:1"}, **backend}]
    path.write_text(json.dumps(config))
    done = subprocess.run([SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
