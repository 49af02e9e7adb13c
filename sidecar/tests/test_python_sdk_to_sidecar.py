"""SDK → sidecar: a Python program using the wafermon SDK reports a job to a real sidecar that fans
out to a filesystem backend, a webhook receiver and a second receiver that is down; the dead one lags,
catches up when it comes back, and every event_id arrives exactly once at each.
Skipped when the Python SDK (with its compiled core) is not installed."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ReceiverProc, SidecarProc, read_jsonl_ids, wait_until

from wafermon_testkit.events import sdk_job_script

pytest.importorskip("wafermon._wafermon", reason="the Python SDK (with its compiled core) is not installed")

JOB = sdk_job_script("batch-sdk", "R-1")


def test_python_sdk_through_the_sidecar_to_three_backends(
    sidecar: Callable[..., SidecarProc], receiver: Callable[..., ReceiverProc], tmp_path: Path
) -> None:
    alive = receiver("alive")
    down = receiver("down", start=False)
    sc = sidecar(
        [
            {"type": "filesystem", "name": "files", "config": {"path": str(tmp_path / "files")}},
            {"type": "webhook", "name": "alive", "config": {"webhook_url": alive.url}},
            {"type": "webhook", "name": "down", "config": {"webhook_url": down.url}},
        ]
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAFERMON_")}
    env |= {
        "WAFERMON_MODE": "sidecar",
        "WAFERMON_SIDECAR_URL": f"http://127.0.0.1:{sc.port}",
        "WAFERMON_APP_NAME": "sdk-test",
        "WAFERMON_SPOOL_DIR": str(tmp_path / "sdk-spool"),
    }
    done = subprocess.run([sys.executable, "-c", JOB], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    wait_until(lambda: sc.health()["spool"]["next_seq"] >= 9, 20, "the SDK's events to arrive")
    wait_until(lambda: sc.lag("files") == 0 and sc.lag("alive") == 0, 20, "the healthy backends")
    total = sc.health()["spool"]["next_seq"]
    assert sc.lag("down") == total and sc.health()["backends"]["down"]["last_error"]

    events = [json.loads(line) for p in (tmp_path / "files").glob("*.jsonl") for line in p.read_text().splitlines()]
    assert {e["sdk"]["lang"] for e in events} == {"python"}
    assert {e["business_key"] for e in events if e["entity_type"] == "job"} == {"batch-sdk"}

    down.start()
    wait_until(lambda: sc.lag("down") == 0, 30, "the revived receiver")
    expected = {e["event_id"] for e in events}
    assert len(expected) == total
    for name, ids in (
        ("files", read_jsonl_ids(tmp_path / "files")),
        ("alive", alive.event_ids()),
        ("down", down.event_ids()),
    ):
        counts = collections.Counter(ids)
        assert set(counts) == expected and max(counts.values()) == 1, name
