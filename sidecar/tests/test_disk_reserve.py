"""A full spool disk must not wedge the sidecar (docs/sidecar.md, "Limits"; docs/reliability.md, "What the
ledger found"). The dead-letter file and the cursors live on the spool's disk, so the spool keeps a stated
reserve of free space (spool.disk_reserve_mb) that ingest never takes: a permanent refusal while the disk is
"full" can still be dead-lettered, the cursor moves, segments are freed and ingest accepts again. A real
sidecar, a real 1 MiB tmpfs and a real receiver that answers 400 to everything."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from conftest import ReceiverProc, SidecarProc, make_events, wait_until


def dead_letters(spool: Path) -> list[dict[str, object]]:
    lines: list[dict[str, object]] = []
    for name in ("hook.jsonl.1", "hook.jsonl"):
        path = spool / "deadletter" / name
        if path.exists():
            lines += [json.loads(line) for line in path.read_text().splitlines()]
    return lines


def spool_filled_behind_a_refusing_hook(
    sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc], spool: Path
) -> tuple[ReceiverProc, SidecarProc, list[str], httpx.Response]:
    """A sidecar spooling to `spool` for a webhook that is down (and answers 400 to everything once
    started), filled until ingest refuses: the hook, the sidecar, the event_ids acknowledged and the
    answer that ended the filling."""
    hook = receiver("hook", start=False, mode="reject")
    sc = sidecar(
        [hook.webhook()],
        ingest={"max_body_bytes": 65536},
        spool={"max_size_mb": 100, "path": str(spool), "segment_size_mb": 0.05},
    )
    acked: list[str] = []
    for _ in range(400):
        events = make_events(20)
        r = sc.post(events)
        if r.status_code != 202:
            break
        acked += [e["event_id"] for e in events]
    return hook, sc, acked, r


def test_permanent_refusal_on_a_full_disk_is_dead_lettered_and_ingest_recovers(
    sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc], tiny_disk: Path
) -> None:
    spool = tiny_disk / "spool"
    hook, sc, acked, r = spool_filled_behind_a_refusing_hook(sidecar, receiver, spool)
    assert r.status_code == 503, r.text
    assert len(acked) > 200, f"only {len(acked)} events fit on the spool"
    assert sc.lag("hook") == len(acked)

    hook.start()  # answers 400 to everything: every event is refused for good
    wait_until(lambda: sc.lag("hook") == 0, 60, f"the lag to drain to 0 (is {sc.lag('hook')})")
    wait_until(lambda: len(dead_letters(spool)) >= len(acked), 30, "every refused event to be dead-lettered")
    letters = dead_letters(spool)
    assert {str(d["event"]["event_id"]) for d in letters} >= set(acked)  # type: ignore[index]
    assert all("400" in str(d["reason"]) for d in letters)
    assert sc.health()["backends"]["hook"]["dead_lettered_events"] >= len(acked)
    wait_until(lambda: sc.post(make_events(5)).status_code == 202, 30, "ingest to accept again")
    assert sc.proc is not None and sc.proc.poll() is None


def test_a_request_that_can_never_fit_is_413_naming_the_limit(
    sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc], tiny_disk: Path
) -> None:
    hook = receiver("hook", start=False)
    sc = sidecar(
        [hook.webhook()],
        ingest={"max_body_bytes": 2 * 1024 * 1024, "max_events_per_request": 10_000},
        spool={"max_size_mb": 100, "path": str(tiny_disk / "spool")},
    )
    big = make_events(1500, metadata={"pad": "x" * 800})  # ~1.5 MB: more than the whole 1 MiB disk holds
    r = sc.post(big)
    assert r.status_code == 413, r.text
    assert "disk" in r.json()["error"] and "spool.disk_reserve_mb" in r.json()["error"]
    assert sc.post(make_events(5)).status_code == 202  # a small one still goes in


def test_config_refuses_a_spool_smaller_than_the_largest_accepted_request() -> None:
    from wafermon_sidecar.config import ConfigError, build_settings

    with pytest.raises(ConfigError) as err:
        build_settings({"spool": {"max_size_mb": 1}, "ingest": {"max_body_bytes": 16 * 1024 * 1024}}, environ={})
    assert "spool.max_size_mb" in str(err.value) and "ingest.max_body_bytes" in str(err.value)
    build_settings({"spool": {"max_size_mb": 1}, "ingest": {"max_body_bytes": 512 * 1024}}, environ={})


def test_dead_letters_meeting_enospc_are_written_in_parts_without_torn_lines(
    sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc], tiny_disk: Path
) -> None:
    spool = tiny_disk / "spool"
    hook, sc, acked, _ = spool_filled_behind_a_refusing_hook(sidecar, receiver, spool)
    # Another process takes the reserve too, so the dead letters really meet ENOSPC.
    ballast = tiny_disk / "ballast"
    stats = os.statvfs(tiny_disk)
    with open(ballast, "wb") as fh:
        fh.write(b"\0" * max(stats.f_bavail * stats.f_frsize - 48 * 1024, 0))
    hook.start()
    wait_until(lambda: "in parts" in sc.log(), 30, "a dead-letter write to meet ENOSPC")
    letter_file = spool / "deadletter" / "hook.jsonl"  # (not parsed here: a write may be under way)
    wait_until(lambda: letter_file.exists() and letter_file.stat().st_size > 0, 30, "dead letters on a full disk")
    ballast.unlink()
    wait_until(lambda: sc.lag("hook") == 0, 60, "the lag to drain to 0")
    letters = dead_letters(spool)  # every line parses: no torn line was left by a failed write
    ids = [str(d["event"]["event_id"]) for d in letters]  # type: ignore[index]
    assert set(ids) >= set(acked) and len(ids) == len(set(ids))
    wait_until(lambda: sc.post(make_events(5)).status_code == 202, 30, "ingest to accept again")
