"""The core against a real HTTP receiver in another process: outages, kill -9, refusals, gzip."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from conftest import Receiver, client_env, ingest_receiver

from wafermon_schema.validate import check_batch


def run_emitter(emitter: Path, env: dict[str, str], *args: str) -> tuple[list[str], dict[str, int]]:
    done = subprocess.run([str(emitter), *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    return [line.split()[1] for line in lines if line.startswith("flushed ")], json.loads(lines[-1])


def entity_counts(events: list[dict[str, object]]) -> Counter[object]:
    return Counter(e["entity_id"] for e in events)


def test_outage_spools_then_delivers_exactly_once(receiver: Receiver, emitter: Path, tmp_path: Path) -> None:
    env = client_env(receiver.url, tmp_path / "spool")
    ids, stats = run_emitter(emitter, env, "emit", "50", "10")
    assert stats["delivered"] == 100
    receiver.stop()
    ids_down, stats = run_emitter(emitter, env, "emit", "200", "20")
    assert stats["spooled"] == 400 and stats["delivered"] == 0
    spool_bytes = sum(p.stat().st_size for p in (tmp_path / "spool").rglob("seg-*"))
    assert spool_bytes > 400 * 300  # the spool grew by the events it holds
    receiver.start()
    _, stats = run_emitter(emitter, env, "drain", "30")
    assert stats["replayed"] == 400 and stats["spool_pending"] == 0
    events = receiver.events()
    by_id = Counter(e["event_id"] for e in events)
    assert len(by_id) == 500 and max(by_id.values()) == 1  # every event exactly once
    counts = entity_counts(events)
    assert all(counts[i] == 2 for i in ids + ids_down)
    accepted, problems = check_batch(receiver.ndjson())
    assert not problems and len(accepted) == 500


def test_kill_9_mid_stream_loses_nothing_that_was_flushed(receiver: Receiver, emitter: Path, tmp_path: Path) -> None:
    env = client_env(receiver.url, tmp_path / "spool")
    receiver.stop()
    proc = subprocess.Popen([str(emitter), "emit", "100000", "25", "200"], env=env, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    flushed: list[str] = []
    while len(flushed) < 300:
        line = proc.stdout.readline()
        assert line, "emitter ended early"
        if line.startswith("flushed "):
            flushed.append(line.split()[1])
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    receiver.start()
    _, stats = run_emitter(emitter, env, "drain", "60")
    assert stats["spool_pending"] == 0
    counts = entity_counts(receiver.events())
    missing = [i for i in flushed if counts[i] != 2]
    assert not missing, f"{len(missing)} flushed jobs did not fully arrive"


def test_receiver_recovers_while_emitting(receiver: Receiver, emitter: Path, tmp_path: Path) -> None:
    receiver.stop()
    env = client_env(receiver.url, tmp_path / "spool")
    proc = subprocess.Popen([str(emitter), "emit", "400", "20", "5000"], env=env, stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    receiver.start()  # comes back while the emitter keeps going
    proc.communicate(timeout=120)
    assert proc.returncode == 0
    _, stats = run_emitter(emitter, env, "drain", "30")
    assert stats["spool_pending"] == 0
    by_id = Counter(e["event_id"] for e in receiver.events())
    assert len(by_id) == 800 and max(by_id.values()) == 1


def test_partial_rejection_goes_to_dead_letter_with_reason(emitter: Path, tmp_path: Path) -> None:
    with ingest_receiver(tmp_path / "received.jsonl", mode="reject-second") as r:
        env = client_env(r.url, tmp_path / "spool", batch_size=100, flush_interval=30)  # one batch of 10
        _, stats = run_emitter(emitter, env, "emit", "5", "5")
    assert stats["dead_lettered"] == 1 and stats["delivered"] == 9
    dead = [json.loads(line) for line in (tmp_path / "spool" / "dead-letter.jsonl").read_text().splitlines()]
    assert len(dead) == 1
    assert dead[0]["reason"] == "metadata: test receiver rejects index 1"
    assert dead[0]["event"]["schema"] == "wafermon.event/1"


def test_permanent_refusal_is_not_retried(emitter: Path, tmp_path: Path) -> None:
    with ingest_receiver(tmp_path / "received.jsonl", mode="reject") as r:
        env = client_env(r.url, tmp_path / "spool")
        _, stats = run_emitter(emitter, env, "emit", "10", "10")
    assert stats["dead_lettered"] == 20 and stats["retries"] == 0 and stats["spooled"] == 0
    dead = (tmp_path / "spool" / "dead-letter.jsonl").read_text().splitlines()
    assert len(dead) == 20 and "HTTP 400" in json.loads(dead[0])["reason"]


def test_gzip_batches_arrive_intact(receiver: Receiver, emitter: Path, tmp_path: Path) -> None:
    env = client_env(receiver.url, tmp_path / "spool", sidecar={"url": receiver.url, "gzip": True})
    _, stats = run_emitter(emitter, env, "emit", "100", "50")
    assert stats["delivered"] == 200
    accepted, problems = check_batch(receiver.ndjson())
    assert not problems and len(accepted) == 200


def test_exit_without_close_delivers_through_the_exit_handler(
    receiver: Receiver, emitter: Path, tmp_path: Path
) -> None:
    env = client_env(receiver.url, tmp_path / "spool", flush_interval=30)  # only the exit flush sends
    done = subprocess.run([str(emitter), "exit", "300"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    by_id = Counter(e["event_id"] for e in receiver.events())
    assert len(by_id) == 600 and max(by_id.values()) == 1


def test_exit_with_dead_receiver_is_bounded_and_spools(receiver: Receiver, emitter: Path, tmp_path: Path) -> None:
    receiver.stop()
    env = client_env(receiver.url, tmp_path / "spool", exit_flush_timeout=1, flush_interval=30)
    started = time.monotonic()
    done = subprocess.run([str(emitter), "exit", "300"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 10  # bounded: never hangs at exit
    receiver.start()
    _, stats = run_emitter(emitter, env, "drain", "30")
    assert stats["spool_pending"] == 0
    assert len({e["event_id"] for e in receiver.events()}) == 600
