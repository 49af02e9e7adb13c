"""Findings become alerts: firing -> (acknowledged) -> resolved, one active alert per key.

Messages go to the outbox in the same transaction as the alert change, so an alert is never recorded
without its notification or the reverse. A new alert's message waits group_wait_s and is rendered
when sent, so the jobs of a burst arrive as one message; while an alert fires, further jobs are
collected and sent as one update once its cooldown has passed. Acknowledged or silenced alerts send
no firing updates; the resolved message is sent unless the alert is silenced.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import msgspec

from ..liveness import iso
from .findings import Finding
from .model import Rule
from .repo import AlertRepo, dumps
from .settings import AlertingSettings


def _merge(old: list[dict[str, Any]], new: list[dict[str, Any]], cap: int) -> tuple[list[dict[str, Any]], int]:
    """Items listed (newest cap, no repeated job) and how many were new."""
    known = {i["job_id"] for i in old}
    fresh = [i for i in new if i["job_id"] not in known]
    return (old + fresh)[-cap:], len(fresh)


class Lifecycle:
    def __init__(self, repo: AlertRepo, settings: AlertingSettings) -> None:
        self.repo = repo
        self.settings = settings

    def _enqueue(
        self, rule: Rule, alert_id: str, event: str, now: datetime, wait: float
    ) -> list[tuple[str, tuple[Any, ...]]]:
        due = now + timedelta(seconds=wait)
        return [self.repo.enqueue(alert_id, name, event, now, due) for name in rule.notify]

    async def apply(self, rule: Rule, finding: Finding, now: datetime) -> None:
        active = await self.repo.active(finding.key)
        stamp = iso(now)
        statements: list[tuple[str, tuple[Any, ...]]] = []
        if finding.firing and active is None:
            alert_id = str(uuid.uuid4())
            items = finding.items[-self.settings.max_items :]
            statements.append(self.repo.insert_alert({
                "alert_id": alert_id, "alert_key": finding.key, "rule": rule.name, "scope": dumps(finding.scope),
                "state": "firing", "summary": finding.summary, "items": dumps(items),
                "item_count": len(finding.items), "started_at": stamp, "updated_at": stamp, "notified_at": stamp,
            }))  # fmt: skip
            statements += self._enqueue(rule, alert_id, "firing", now, self.settings.group_wait_s)
        elif finding.firing and active is not None:
            old = msgspec.json.decode(active["items"])
            if finding.mode == "add":
                items, fresh = _merge(old, finding.items, self.settings.max_items)
                count = int(active["item_count"]) + fresh
            else:
                items, count = finding.items[-self.settings.max_items :], len(finding.items)
                fresh = len({i["job_id"] for i in items} - {i["job_id"] for i in old})
            if fresh == 0 and finding.summary == active["summary"]:
                return
            changes: dict[str, Any] = {"items": dumps(items), "item_count": count, "summary": finding.summary}
            if fresh:
                changes["updated_at"] = stamp
            statements.append(self.repo.update_alert(active["alert_id"], changes))
        elif not finding.firing and active is not None:
            statements.append(self.repo.update_alert(active["alert_id"], {
                "state": "resolved", "resolved_at": stamp, "updated_at": stamp,
                "summary": finding.summary or f"{active['summary']} (resolved)",
            }))  # fmt: skip
            if not self._silenced(active, now):
                statements += self._enqueue(rule, active["alert_id"], "resolved", now, 0)
        await self.repo.db.many(statements)
        if finding.firing and active is not None:
            await self.repeat_if_due(rule, active["alert_id"], now)

    @staticmethod
    def _silenced(alert: dict[str, Any], now: datetime) -> bool:
        until = alert.get("silenced_until")
        return bool(until) and str(until) > iso(now)

    async def repeat_if_due(self, rule: Rule, alert_id: str, now: datetime) -> None:
        """Send one update for jobs collected since the last message, once the cooldown has passed."""
        alert = await self.repo.get(alert_id)
        if alert is None or alert["state"] != "firing" or self._silenced(alert, now):
            return
        notified = alert["notified_at"] or alert["started_at"]
        if alert["updated_at"] <= notified or now - datetime.fromisoformat(notified) < timedelta(
            seconds=rule.cooldown_s
        ):
            return
        await self.repo.db.many([
            self.repo.update_alert(alert_id, {"notified_at": iso(now)}),
            *self._enqueue(rule, alert_id, "firing", now, 0),
        ])  # fmt: skip

    async def resolve_missing(self, rule: Rule, firing_keys: set[str], now: datetime) -> None:
        """Windowed rules: an active alert whose group no longer fires is resolved."""
        for alert in await self.repo.active_of_rule(rule.name):
            if alert["alert_key"] not in firing_keys:
                summary = f"{alert['summary']} (resolved)"
                await self.apply(rule, Finding(rule.name, alert["alert_key"], {}, False, summary), now)
