"""The conformance testee (conformance/testees/python/testee.py) on a scenario using every op,
against the HTTP receiver, as the conformance runner drives it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import REPO, Receiver, clean_env, sidecar_config

SCENARIO: dict[str, Any] = {
    "name": "python_all_ops",
    "steps": [
        {"op": "start", "as": "j", "business_key": "b-1", "site_id": "fab1", "metadata": {"k": 1}},
        {"op": "subjob", "parent": "j", "as": "w1", "sub_key": "wafer-1"},
        {"op": "progress", "job": "w1", "fraction": 0.5, "metadata": {"step": "etch"}},
        {"op": "progress", "job": "w1", "fraction": None},
        {"op": "heartbeat", "job": "w1"},
        {"op": "succeed", "job": "w1"},
        {"op": "progress", "job": "j", "metadata_raw": "[1, 2]", "expect_error": "MetadataError"},
        {"op": "succeed", "job": "w1", "expect_error": "StateError"},
        {"op": "fork_child", "parent": "j", "as": "c", "sub_key": "child-1"},
        {"op": "fail", "job": "j", "error_type": "ValueError", "error_message": "boom"},
        {"op": "start", "as": "x", "business_key": "b-2"},
        {"op": "cancel", "job": "x", "metadata": {"why": "test"}},
        {"op": "sleep", "seconds": 0.01},
        {"op": "flush", "timeout": 10},
    ],
}


def test_testee_runs_every_op(receiver: Receiver, tmp_path: Path) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO))
    env = {**clean_env(), "WAFERMON_CONFIG": json.dumps(sidecar_config(receiver.url, tmp_path))}
    proc = subprocess.run(
        [sys.executable, str(REPO / "conformance/testees/python/testee.py"), str(scenario)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["step"] for line in lines] == list(range(len(SCENARIO["steps"])))
    for line, step in zip(lines, SCENARIO["steps"], strict=True):
        expected = step.get("expect_error")
        assert line["ok"] is (expected is None), line
        if expected:
            assert line["error"] == expected and line["message"]
    ids = {SCENARIO["steps"][i].get("as"): line.get("id") for i, line in enumerate(lines)}
    events = receiver.wait_for(lambda ev: len(ev) >= 11)
    by_entity: dict[str, list[str]] = {}
    for event in events:
        by_entity.setdefault(event["entity_id"], []).append(event["event_kind"])
    assert by_entity[ids["j"]] == ["started", "finished"]
    assert by_entity[ids["w1"]] == ["started", "progress", "progress", "heartbeat", "finished"]
    assert by_entity[ids["c"]] == ["started", "finished"]
    assert by_entity[ids["x"]] == ["started", "finished"]
    assert len(events) == 11
    assert {e["sdk"]["lang"] for e in events} == {"python"}
