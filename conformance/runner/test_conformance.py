"""Runs every scenario through every language's testee against a real HTTP receiver and checks what
arrives, field by field and against the v1 JSON Schema (conformance/PROTOCOL.md)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
from expected import DEFAULT_SITE, compare, expected_entities
from testees import ROOT, TESTEES

from wafermon_schema.validate import check_batch
from wafermon_testkit import ingest_receiver

SCENARIOS = sorted((ROOT / "conformance" / "scenarios").glob("*.json"))
LANGS = os.environ.get("WAFERMON_CONFORMANCE_LANGS", "c,python,java,r,perl").split(",")


def known_failures(lang: str) -> set[str]:
    path = ROOT / "conformance" / "known_failures" / f"{lang}.txt"
    if not path.exists():
        return set()
    return {line.split("#")[0].strip() for line in path.read_text().splitlines()} - {""}


def run_scenario(lang: str, scenario: dict[str, Any], path: Path, tmp: Path) -> tuple[list[dict[str, Any]], bytes]:
    """Runs the testee; returns its per-step results and the raw NDJSON the receiver got."""
    receiver = ingest_receiver(tmp / "received.jsonl")
    down_first = scenario.get("receiver") == "down_then_up"
    if not down_first:
        receiver.start()
    config = {
        "sidecar": {"url": f"http://127.0.0.1:{receiver.port}", "retries": 1, "timeout": 2},
        "spool": {"path": str(tmp / "spool")},
        "app": {"name": "conformance", "version": "1", "site_id": DEFAULT_SITE},
        "flush_interval": 0.05,
        "log_level": "error",
    }
    testee = TESTEES[lang]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAFERMON_")}
    env.update(testee.env, WAFERMON_CONFIG=json.dumps(config))
    proc = subprocess.Popen(
        [*testee.command, str(path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stderr is not None
    results: list[dict[str, Any]] = []
    try:
        for line in proc.stdout:
            if not line.startswith("{"):
                continue
            result = json.loads(line)
            results.append(result)
            if down_first and scenario["steps"][result["step"]].get("signal_runner"):
                receiver.start()
        stderr = proc.stderr.read()
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        receiver.stop()
    assert code == 0, f"{lang} testee exited {code}: {stderr[-2000:]}"
    body = receiver.ndjson()
    return results, body


def check(lang: str, path: Path) -> None:
    scenario = json.loads(path.read_text())
    with tempfile.TemporaryDirectory(prefix=f"wm-conf-{lang}-") as tmp:
        results, body = run_scenario(lang, scenario, path, Path(tmp))
    steps = scenario["steps"]
    assert len(results) == len(steps), f"{len(results)} step results for {len(steps)} steps"
    ids: dict[str, str] = {}
    problems = []
    for step, result in zip(steps, results, strict=True):
        want = step.get("expect_error")
        if want and result.get("error") != want:
            problems.append(f"step {result['step']} ({step['op']}): expected {want}, got {result}")
        if not want and not result.get("ok"):
            problems.append(f"step {result['step']} ({step['op']}) failed: {result}")
        if result.get("ok") and result.get("id") and "as" in step:
            ids[step["as"]] = result["id"]
    accepted, schema_problems = check_batch(body) if body else ([], [])
    problems += [f"schema: {p.as_dict()}" for p in schema_problems]
    problems += compare(expected_entities(steps), ids, [json.loads(a.raw) for a in accepted], lang)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("scenario", [p.stem for p in SCENARIOS])
def test_scenario(scenario: str, lang: str) -> None:
    path = ROOT / "conformance" / "scenarios" / f"{scenario}.json"
    if lang in json.loads(path.read_text()).get("skip", []):
        pytest.skip(f"{lang} cannot run {scenario}")
    missing = TESTEES[lang].missing()
    assert missing is None, missing
    if scenario in known_failures(lang):
        try:
            check(lang, path)
        except AssertionError as failure:
            pytest.xfail(f"known failure: {str(failure)[:300]}")
        pytest.fail(f"{scenario} is listed in known_failures/{lang}.txt but passes: remove it from the list")
    check(lang, path)


def test_scenarios_are_well_formed() -> None:
    ops = {"start", "subjob", "progress", "heartbeat", "succeed", "cancel", "fail", "flush", "sleep", "fork_child"}
    for path in SCENARIOS:
        scenario = json.loads(path.read_text())
        assert scenario["name"] == path.stem and scenario["description"]
        for step in scenario["steps"]:
            assert step["op"] in ops, f"{path.name}: unknown op {step['op']}"
