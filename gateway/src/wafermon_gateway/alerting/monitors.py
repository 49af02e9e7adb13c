"""Schedule monitors in the store and their evaluation on the alerting timer.

Each non-ok state of a monitor is an alert with key `monitor|<name>|<state>` (rule name
`monitor:<name>`), so a missed start and an overdue run are told apart and each resolves on its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec

from ..liveness import iso
from .db import AlertDb
from .declared import DECLARATION_KEY, declared_name
from .findings import Finding, job_item
from .lifecycle import Lifecycle
from .model import Rule
from .monitor_model import MONITOR_STATES, Monitor
from .monitor_state import evaluate, period_s
from .repo import dumps

_LOOKBACK_CAP_S = 30 * 86400.0
_RUN_CAP = 2000


def monitor_rule(m: Monitor) -> Rule:
    # Not validated again: the monitor's own model already checked name and notify.
    return Rule.model_construct(name=f"monitor:{m.name}", kind="job_failed", cooldown_s=m.cooldown_s,
                                notify=list(m.notify), enabled=True)  # fmt: skip


def matches(m: Monitor, row: dict[str, Any]) -> bool:
    from fnmatch import fnmatchcase

    mt = m.match
    for pattern, value in (
        (mt.app, row["app_name"]),
        (mt.business_key, row["business_key"]),
        (mt.site, row["site_id"]),
    ):
        if pattern is not None and (value is None or not fnmatchcase(value, pattern)):
            return False
    if mt.monitor is not None:
        meta = row["metadata"]
        meta = msgspec.json.decode(meta) if isinstance(meta, str | bytes) else meta
        if not isinstance(meta, dict):
            return False
        return mt.monitor in (meta.get("monitor"), declared_name(meta.get(DECLARATION_KEY), row["app_name"]))
    return True


class Monitors:
    def __init__(self, db: AlertDb, lifecycle: Lifecycle) -> None:
        self.db = db
        self.lifecycle = lifecycle

    async def rows(self) -> list[dict[str, Any]]:
        return await self.db.fetch("SELECT * FROM monitors ORDER BY name")

    async def get(self, name: str) -> dict[str, Any] | None:
        rows = await self.db.fetch("SELECT * FROM monitors WHERE name = ?", name)
        return rows[0] if rows else None

    async def put(self, m: Monitor, origin: str, now: datetime) -> bool:
        existing = await self.get(m.name)
        if existing is None:
            await self.db.execute(
                "INSERT INTO monitors (name, body, origin, created_at, updated_at, state, state_since, detail)"
                " VALUES (?, ?, ?, ?, ?, 'ok', ?, '{}')",
                m.name, m.model_dump_json(), origin, iso(now), iso(now), iso(now),
            )  # fmt: skip
            return True
        await self.db.execute("UPDATE monitors SET body = ?, origin = ?, updated_at = ? WHERE name = ?",
                              m.model_dump_json(), origin, iso(now), m.name)  # fmt: skip
        return False

    async def declare(self, m: Monitor, now: datetime) -> str:
        """A monitor declared from SDK code: "created", "updated", "unchanged", or "configured" (a
        monitor of that name from the settings or the API exists; it wins and the declaration is ignored)."""
        existing = await self.get(m.name)
        if existing is not None and existing["origin"] != "code":
            return "configured"
        if existing is not None and existing["body"] == m.model_dump_json():
            return "unchanged"
        return "created" if await self.put(m, "code", now) else "updated"

    async def delete(self, name: str) -> bool:
        return await self.db.execute("DELETE FROM monitors WHERE name = ?", name) > 0

    async def _runs(self, m: Monitor, now: datetime) -> list[dict[str, Any]]:
        lookback = min(_LOOKBACK_CAP_S, max(3 * period_s(m, now), 2 * (m.max_runtime_s or 0), 86400.0))
        ident = "entity_id::text AS entity_id" if self.db.postgres else "entity_id"
        rows = await self.db.fetch(
            f"SELECT {ident}, site_id, app_name, business_key, status, error, host, metadata, started_at,"
            " finished_at, created_at FROM jobs WHERE created_at >= ? OR status = 'running'"
            f" ORDER BY created_at DESC LIMIT {_RUN_CAP}",
            self.db.moment(now - timedelta(seconds=lookback)),
        )  # fmt: skip
        out = []
        for r in rows:
            if matches(m, r):
                for c in ("started_at", "finished_at", "created_at"):
                    r[c] = self.db.text_time(r[c])
                r["error"] = msgspec.json.decode(r["error"]) if isinstance(r["error"], str) else r["error"]
                out.append(r)
        return out

    async def evaluate_all(self, now: datetime) -> dict[str, str]:
        """Evaluate every monitor at `now`; returns name -> state."""
        states: dict[str, str] = {}
        for row in await self.rows():
            m = Monitor.model_validate_json(row["body"])
            runs = await self._runs(m, now)
            verdict = evaluate(m, runs, now, datetime.fromisoformat(row["created_at"]), row["state"] == "failing")
            rule = monitor_rule(m)
            firing = set()
            for state, state_runs in verdict.states.items():
                key = f"monitor|{m.name}|{state}"
                firing.add(key)
                text = f"monitor {m.name}: {state}" + (f" ({len(state_runs)} run(s))" if state_runs else "")
                if state == "missed" and verdict.expected_at:
                    text += f", expected a start at {verdict.expected_at}"
                finding = Finding(rule.name, key, {"monitor": m.name, "state": state}, True, text,
                                  [job_item(r) for r in state_runs], mode="replace")  # fmt: skip
                await self.lifecycle.apply(rule, finding, now)
            await self.lifecycle.resolve_missing(rule, firing, now)
            state = verdict.state
            states[m.name] = state
            detail = dumps({"states": sorted(verdict.states), "expected_at": verdict.expected_at, "runs": len(runs)})
            if state != row["state"]:
                await self.db.execute("UPDATE monitors SET state = ?, state_since = ?, detail = ? WHERE name = ?",
                                      state, iso(now), detail, m.name)  # fmt: skip
            else:
                await self.db.execute("UPDATE monitors SET detail = ? WHERE name = ?", detail, m.name)
        return states


def monitor_view(row: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = msgspec.json.decode(row["body"])
    return body | {"state": row["state"], "state_since": row["state_since"], "created_at": row["created_at"],
                   "origin": row["origin"],
                   "detail": msgspec.json.decode(row["detail"])}  # fmt: skip


__all__ = ["MONITOR_STATES", "Monitors", "monitor_view"]
