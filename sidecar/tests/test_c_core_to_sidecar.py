"""SDK → sidecar: the C core's example program reports a job to a real sidecar (token + gzip), and the
events reach the filesystem backend. Skipped when the core has not been built (build/core/hello_job)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, SidecarProc, wait_until

HELLO = REPO / "build" / "core" / "hello_job"


@pytest.mark.skipif(not os.access(HELLO, os.X_OK), reason="the C core is not built (build/core/hello_job)")
def test_c_core_reports_through_the_sidecar(sidecar: Callable[..., SidecarProc], tmp_path: Path) -> None:
    out = tmp_path / "files"
    sc = sidecar(
        [{"type": "filesystem", "name": "files", "config": {"path": str(out)}}], ingest={"auth_token": "c-core-token"}
    )
    env = {
        **os.environ,
        "WAFERMON_SIDECAR_URL": f"http://127.0.0.1:{sc.port}",
        "WAFERMON_SIDECAR_TOKEN": "c-core-token",
        "WAFERMON_SIDECAR_GZIP": "1",
        "WAFERMON_SPOOL_DIR": str(tmp_path / "core-spool"),
    }
    done = subprocess.run([str(HELLO)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "(delivered)" in done.stdout, done.stdout + done.stderr
    job_id = done.stdout.split()[1]
    wait_until(lambda: sc.lag("files") == 0 and sc.health()["spool"]["next_seq"] > 0, 20, "delivery")
    events = [json.loads(line) for p in out.glob("*.jsonl") for line in p.read_text().splitlines()]
    assert events and all(e["sdk"]["lang"] == "c" for e in events)
    assert {e["entity_id"] for e in events if e["entity_type"] == "job"} == {job_id}
    assert any(e["event_kind"] == "finished" and e["entity_id"] == job_id for e in events)
