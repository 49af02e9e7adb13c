"""The sidecar path against a real HTTP receiver process, including an outage: events are spooled
while it is down and all delivered, once each by event_id, when it is back."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from conftest import Receiver, sidecar_config

import wafermon


def test_events_arrive_over_http(receiver: Receiver, tmp_path: Path) -> None:
    with wafermon.Client(sidecar_config(receiver.url, tmp_path)) as client:
        with client.job("http-batch", metadata={"via": "http"}) as job, job.subjob("w1") as w:
            w.progress(0.5)
        client.flush(10)
        stats = client.stats()
    assert stats["delivered"] == 5 and stats["spooled"] == 0
    events = receiver.wait_for(lambda ev: len(ev) >= 5)
    assert [e["event_kind"] for e in events] == ["started", "started", "progress", "finished", "finished"]
    assert events[0]["metadata"] == {"via": "http"} and events[0]["sdk"]["lang"] == "python"


def test_receiver_down_then_back_delivers_everything_once(receiver: Receiver, tmp_path: Path) -> None:
    client = wafermon.Client(sidecar_config(receiver.url, tmp_path))
    with client.job("before-outage"):
        pass
    client.flush(10)
    receiver.stop()
    ids = []
    for i in range(20):
        with client.job(f"during-outage-{i}") as job:
            job.progress(0.5)
        ids.append(job.id)
    client.flush(15)  # returns once everything is delivered or durably spooled
    assert client.stats()["spooled"] > 0
    receiver.start()
    events = receiver.wait_for(lambda ev: len({e["event_id"] for e in ev}) >= 2 + 20 * 3, timeout=60)
    client.close(10)
    counts = Counter(e["event_id"] for e in events)
    assert len(counts) == 2 + 20 * 3
    assert {e["entity_id"] for e in events} >= set(ids)
    # At-least-once on the wire; a receiver de-duplicating on event_id sees each exactly once.
    assert all(n == 1 for n in counts.values()), counts.most_common(3)
