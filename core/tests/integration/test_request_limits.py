"""Requests within the receiver's limits: the core caps each request by bytes (batch_max_bytes) as
well as by count (batch_size), splits a batch the receiver refuses with 413 and retries the halves,
and dead-letters only an event too big for any request. The receiver enforces the sidecar's
documented limits (16 MiB decompressed body, 10 000 events) unless a test lowers them."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

from conftest import client_env, free_port, ingest_receiver

from wafermon_testkit.receiver import SIDECAR_MAX_BODY as MAX_BODY
from wafermon_testkit.receiver import SIDECAR_MAX_EVENTS as MAX_EVENTS


def run(emitter: Path, env: dict[str, str], *args: str) -> dict[str, int]:
    done = subprocess.run([str(emitter), *args], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    stats: dict[str, int] = json.loads(done.stdout.splitlines()[-1])
    return stats


def run_against_receiver(
    emitter: Path,
    tmp_path: Path,
    args: tuple[str, ...],
    max_body: int = MAX_BODY,
    max_events: int = MAX_EVENTS,
    **config: Any,
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Runs the emitter against a receiver process with these limits; its stats and what arrived."""
    with ingest_receiver(tmp_path / "received.jsonl", max_body=max_body, max_events=max_events) as r:
        stats = run(emitter, client_env(r.url, tmp_path / "spool", **config), *args)
        return stats, r.events()


def test_large_events_go_in_requests_under_the_receivers_body_limit(emitter: Path, tmp_path: Path) -> None:
    # 300 jobs with 60 KB metadata in batches of 500: 30 MB per batch by count alone.
    stats, events = run_against_receiver(emitter, tmp_path, ("big", "300", "60000"), batch_size=500, flush_interval=30)
    assert stats["dead_lettered"] == 0 and stats["delivered"] == 600
    assert len(Counter(e["event_id"] for e in events)) == 600


def test_a_413_splits_the_batch_until_the_halves_fit(emitter: Path, tmp_path: Path) -> None:
    # The core's byte cap is above this receiver's limit, so only the 413 answers can teach it.
    stats, events = run_against_receiver(
        emitter,
        tmp_path,
        ("big", "100", "20000"),
        max_body=200_000,
        max_events=50,
        batch_size=1000,
        batch_max_bytes=16 * 1024 * 1024,
        flush_interval=1,
    )
    assert stats["dead_lettered"] == 0 and stats["delivered"] == 200
    assert len(Counter(e["event_id"] for e in events)) == 200


def test_too_many_events_for_one_request_are_split_not_dead_lettered(emitter: Path, tmp_path: Path) -> None:
    stats, events = run_against_receiver(
        emitter, tmp_path, ("emit", "300", "300"), max_events=64, batch_size=500, flush_interval=1
    )
    assert stats["dead_lettered"] == 0 and stats["delivered"] == 600
    assert len(Counter(e["event_id"] for e in events)) == 600


def test_only_an_event_too_big_for_any_request_is_dead_lettered(emitter: Path, tmp_path: Path) -> None:
    stats, events = run_against_receiver(
        emitter, tmp_path, ("big", "10", "40000", "10"), max_body=30_000, flush_interval=1
    )
    kinds = Counter(e["event_kind"] for e in events)
    dead = [json.loads(line) for line in (tmp_path / "spool" / "dead-letter.jsonl").read_text().splitlines()]
    too_big = [d for d in dead if len(json.dumps(d["event"])) > 30_000]
    assert len(dead) == len(too_big) == stats["dead_lettered"] > 0
    assert all("413" in d["reason"] for d in dead)
    assert stats["delivered"] + stats["dead_lettered"] == 20
    assert sum(kinds.values()) == stats["delivered"]


def test_spooled_batches_over_the_limit_are_split_at_replay(emitter: Path, tmp_path: Path) -> None:
    # Spooled while the receiver is down as one record of 300 events; replayed to a receiver that
    # takes 64 per request.
    port = free_port()
    env = client_env(f"http://127.0.0.1:{port}", tmp_path / "spool", batch_size=500, exit_flush_timeout=0.2)
    done = subprocess.run([str(emitter), "exit", "150"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    r = ingest_receiver(tmp_path / "received.jsonl", port, max_events=64)
    r.start()
    try:
        stats = run(emitter, env, "drain", "60")
        by_id = Counter(e["event_id"] for e in r.events())
    finally:
        r.stop()
    assert stats["dead_lettered"] == 0 and stats["spool_pending"] == 0
    assert len(by_id) == 300
