"""`alertmanager`: POST to Prometheus Alertmanager's v2 API (`/api/v2/alerts`), so sites that route
alerts there keep doing so. Labels: alertname (the rule), alert_key, site, app, severity; a resolved
message carries endsAt. Config: url (Alertmanager base URL), severity ("warning"), timeout_s (10)."""

from __future__ import annotations

from typing import Any

import orjson

from .base import Message, http_url
from .webhook import post


def am_alert(message: Message, severity: str) -> dict[str, Any]:
    a = message.alert
    scope = a.get("scope") or {}
    labels = {"alertname": a["rule"], "alert_key": a["alert_key"], "severity": severity, "source": "wafermon"}
    labels |= {k: str(scope[s]) for k, s in (("site", "site_id"), ("app", "app")) if scope.get(s)}
    body: dict[str, Any] = {
        "labels": labels,
        "annotations": {"summary": a["summary"], "description": message.text()[:4000]},
        "startsAt": a["started_at"],
    }
    if message.event == "resolved" and a.get("resolved_at"):
        body["endsAt"] = a["resolved_at"]
    if message.dashboard_url:
        body["generatorURL"] = message.dashboard_url
    return body


class AlertmanagerNotifier:
    def __init__(self, config: dict[str, Any]) -> None:
        self.url = http_url(config).rstrip("/") + "/api/v2/alerts"
        self.severity = str(config.get("severity", "warning"))
        self.timeout_s = float(config.get("timeout_s", 10.0))

    async def send(self, message: Message) -> None:
        body = orjson.dumps([am_alert(message, self.severity)])
        await post(self.url, body, {"Content-Type": "application/json"}, self.timeout_s)
