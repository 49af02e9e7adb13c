"""The examples in docs/alerting.md work: the settings example loads (every alerting setting is in
it) and builds every notifier, and the plug-in example is a working notifier."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from wafermon_gateway.alerting.notifiers.base import Message, NotifierConfigError
from wafermon_gateway.alerting.notifiers.registry import build
from wafermon_gateway.alerting.settings import AlertingSettings
from wafermon_gateway.settings import load_settings

DOC = (Path(__file__).resolve().parents[2] / "docs" / "alerting.md").read_text()
BLOCKS = {m.group(1): m.group(2) for m in re.finditer(r"<!-- doc-test: (\S+) -->\n```\w+\n(.*?)```", DOC, re.DOTALL)}
ENV = {"WAFERMON_HOOK_SECRET": "s", "WAFERMON_SLACK_WEBHOOK_URL": "https://hooks.slack.example/x",
       "WAFERMON_SMTP_PASSWORD": "pw"}  # fmt: skip


def test_the_settings_example_loads_and_documents_every_key(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(BLOCKS["config"])
    alerting = load_settings(path, environ=ENV).alerting
    assert [r.kind for r in alerting.rules] == [
        "job_failed", "failure_rate", "long_running", "silence", "store_unreachable",
    ]  # fmt: skip
    for spec in alerting.notifiers:
        build(spec)
    assert alerting.notifiers[1].config["url"] == ENV["WAFERMON_SLACK_WEBHOOK_URL"]
    for key in AlertingSettings.__struct_fields__:
        assert key in BLOCKS["config"], f"docs/alerting.md does not show the setting {key}"


def test_the_plugin_example_is_a_notifier() -> None:
    space: dict[str, Any] = {}
    exec(compile(BLOCKS["plugin"], "alerting.md", "exec"), space)
    with pytest.raises(NotifierConfigError, match=r"config\.url"):
        space["TeamsNotifier"]({})
    notifier = space["TeamsNotifier"]({"url": "https://teams.example"})
    alert = {"summary": "r: job failed", "items": [{"job_id": "j1", "app": "a", "status": "failed"}], "item_count": 3}
    asyncio.run(notifier.send(Message("n1", "firing", alert, "")))
    assert notifier.sent[0].splitlines() == ["[FIRING] r: job failed", "- a  [failed] job j1", "... and 2 more"]


def test_the_sidecar_rules_example_is_valid() -> None:
    import tomllib

    from wafermon_gateway.alerting.model import Rule

    rules = [Rule.model_validate(r) for r in tomllib.loads(BLOCKS["sidecar-rules"])["gateway"]["alerting"]["rules"]]
    assert [r.kind for r in rules] == ["ingest_lag", "sidecar_silent"]
