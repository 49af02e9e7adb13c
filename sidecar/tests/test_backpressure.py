"""Bounded spool: full → 503 + Retry-After (nothing acknowledged that is not on disk), and a full
disk (a real 1 MiB tmpfs, so the kernel answers ENOSPC) → 503 with the errno, no crash; both recover
once the backend drains, and no acknowledged event is lost."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path

from conftest import ReceiverProc, SidecarProc, make_events, wait_until


def fill_until_refused(sc: SidecarProc, acked: list[str], limit: int = 400) -> dict[str, object]:
    for _ in range(limit):
        events = make_events(20)
        r = sc.post(events)
        if r.status_code == 202:
            acked += [e["event_id"] for e in events]
            continue
        assert r.status_code == 503, r.text
        assert r.headers["Retry-After"] == "1"
        body: dict[str, object] = r.json()
        assert body["accepted"] == 0
        return body
    raise AssertionError("the spool never refused")


def test_spool_full_answers_503_with_retry_after_then_recovers(
    sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc], tmp_path: Path
) -> None:
    hook = receiver("hook", start=False)
    sc = sidecar([hook.webhook()], ingest={"max_body_bytes": 65536}, spool={"max_size_mb": 0.1})
    acked: list[str] = []
    body = fill_until_refused(sc, acked)
    assert "spool is full" in str(body["error"]) and "max_size_mb" in str(body["error"])
    health = sc.health()
    assert health["spool"]["full"] is True and health["status"] == "degraded"
    assert health["spool"]["bytes"] <= health["spool"]["max_bytes"]
    assert 'wafermon_sidecar_requests_refused_total{reason="spool_full"}' in sc.client.get("/metrics").text

    hook.start()
    wait_until(lambda: sc.lag("hook") == 0, 30, "the backend to drain the full spool")
    wait_until(lambda: sc.post(make_events(1)).status_code == 202, 10, "ingest to be accepted again")
    assert set(acked) <= set(hook.event_ids())


def test_disk_full_enospc_is_503_not_a_crash(
    sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc], tiny_disk: Path
) -> None:
    hook = receiver("hook", start=False)
    sc = sidecar([hook.webhook()], spool={"max_size_mb": 100, "path": str(tiny_disk / "spool"), "segment_size_mb": 0.1})
    acked: list[str] = []
    body = fill_until_refused(sc, acked)
    # the spool stops short of the disk's reserve (kept for dead letters and cursors), or the kernel says ENOSPC
    error = str(body["error"])
    assert "spool.disk_reserve_mb" in error or ("No space left on device" in error and "errno 28" in error), error
    assert sc.proc is not None and sc.proc.poll() is None, "the sidecar died on ENOSPC"
    assert sc.health()["spool"]["bytes"] < 1024 * 1024
    # a second refusal is just as clean
    assert sc.post(make_events(20)).status_code == 503

    hook.start()
    wait_until(lambda: sc.lag("hook") == 0, 30, "the backend to drain")

    def accepted_again() -> bool:
        events = make_events(5)
        if sc.post(events).status_code == 202:
            acked.extend(e["event_id"] for e in events)
            return True
        return False

    wait_until(accepted_again, 15, "ingest to work again once segments are freed")
    wait_until(lambda: sc.lag("hook") == 0, 15, "the last events to be delivered")
    assert set(acked) <= set(hook.event_ids())
    assert str(uuid.UUID(acked[0])) == acked[0]
