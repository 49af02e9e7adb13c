"""``wafermon run`` runs a real program as a job: outcome, metrics, exit code."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import clean_env, direct_config, read_jsonl_dir

WAFERMON = shutil.which("wafermon", path=os.path.dirname(sys.executable)) or "wafermon"


def run(tmp_path: Path, *args: str) -> tuple[int, list[dict[str, Any]]]:
    config = tmp_path / "wafermon.json"
    config.write_text(json.dumps(direct_config(tmp_path)))
    proc = subprocess.run([WAFERMON, "run", "--config", str(config), *args], env=clean_env(), timeout=60)
    return proc.returncode, read_jsonl_dir(tmp_path / "out")


def test_exit_zero_succeeds(tmp_path: Path) -> None:
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.2: pass\nb = bytearray(60 << 20)"
    code, events = run(
        tmp_path,
        "--site",
        "fab3",
        "--key",
        "nightly",
        "--metadata",
        '{"owner": "ops"}',
        "--",
        sys.executable,
        "-c",
        burn,
    )
    assert code == 0
    started, finished = events
    assert started["business_key"] == "nightly" and started["site_id"] == "fab3"
    assert started["metadata"]["owner"] == "ops" and started["metadata"]["command"][0] == sys.executable
    assert finished["status"] == "succeeded" and finished["metadata"] == {"exit_code": 0}
    assert finished["metrics"]["cpu_user_s"] + finished["metrics"]["cpu_sys_s"] >= 0.18  # the child's CPU
    assert finished["metrics"]["mem_max_mb"] >= 60


def test_exit_three_fails(tmp_path: Path) -> None:
    code, events = run(tmp_path, "--", "sh", "-c", "exit 3")
    assert code == 3
    assert events[0]["business_key"] == "sh"
    assert events[-1]["status"] == "failed"
    assert events[-1]["error"] == {"type": "ExitCode", "message": "exit code 3"}
    assert events[-1]["metadata"] == {"exit_code": 3}


def test_killed_by_signal(tmp_path: Path) -> None:
    code, events = run(tmp_path, "--", "sh", "-c", "kill -KILL $$")
    assert code == 128 + 9
    assert events[-1]["error"] == {"type": "Signal", "message": "SIGKILL"}
    assert events[-1]["metadata"] == {"exit_code": 137, "signal": "SIGKILL"}


def test_sigterm_is_forwarded_and_heartbeats_run(tmp_path: Path) -> None:
    config = tmp_path / "wafermon.json"
    config.write_text(json.dumps(direct_config(tmp_path)))
    proc = subprocess.Popen(
        [WAFERMON, "run", "--config", str(config), "--heartbeat", "0.1", "--", "sleep", "30"], env=clean_env()
    )
    try:
        deadline = 50
        while deadline and len([e for e in read_jsonl_dir(tmp_path / "out") if e["event_kind"] == "heartbeat"]) < 2:
            subprocess.run(["sleep", "0.1"], check=True)
            deadline -= 1
        proc.terminate()
        assert proc.wait(timeout=10) == 128 + 15
    finally:
        proc.kill()
    events = read_jsonl_dir(tmp_path / "out")
    assert len([e for e in events if e["event_kind"] == "heartbeat"]) >= 2
    assert events[-1]["error"] == {"type": "Signal", "message": "SIGTERM"}


@pytest.mark.parametrize("args", [["--", "/nonexistent/program"]])
def test_missing_program(tmp_path: Path, args: list[str]) -> None:
    code, events = run(tmp_path, *args)
    assert code == 127
    assert events[-1]["status"] == "failed" and events[-1]["error"]["type"] == "FileNotFoundError"


def test_usage_errors(tmp_path: Path) -> None:
    assert subprocess.run([WAFERMON, "run"], env=clean_env(), capture_output=True).returncode == 2
    bad = subprocess.run([WAFERMON, "run", "--metadata", "[1]", "--", "true"], env=clean_env(), capture_output=True)
    assert bad.returncode == 2 and b"JSON object" in bad.stderr
