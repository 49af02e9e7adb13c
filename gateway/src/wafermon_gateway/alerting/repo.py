"""Rows of the alerting tables: rules, notifiers, alerts (history), failure streaks and the outbox."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec

from ..liveness import iso
from .db import AlertDb
from .model import NotifierSpec, Rule

ACTIVE = ("firing", "acknowledged")
ALERT_STATES = ("firing", "acknowledged", "resolved")


def dumps(value: Any) -> str:
    """Compact JSON text for the alerting tables' JSON columns."""
    return msgspec.json.encode(value).decode()


def alert_view(row: dict[str, Any]) -> dict[str, Any]:
    """An alerts row as the API shows it."""
    out = dict(row)
    out["scope"] = msgspec.json.decode(row["scope"])
    out["items"] = msgspec.json.decode(row["items"])
    return out


class AlertRepo:
    def __init__(self, db: AlertDb) -> None:
        self.db = db

    # --- rules and notifiers -----------------------------------------------------------------
    async def rules(self) -> list[Rule]:
        rows = await self.db.fetch("SELECT body FROM alert_rules ORDER BY name")
        return [Rule.model_validate_json(r["body"]) for r in rows]

    async def notifiers(self) -> list[NotifierSpec]:
        rows = await self.db.fetch("SELECT body FROM alert_notifiers ORDER BY name")
        return [NotifierSpec.model_validate_json(r["body"]) for r in rows]

    async def put(self, table: str, name: str, body: str, origin: str, now: datetime) -> bool:
        """Insert or replace a rule/notifier; True when it was new."""
        existed = await self.db.fetch(f"SELECT name FROM {table} WHERE name = ?", name)
        await self.db.execute(
            f"INSERT INTO {table} (name, body, origin, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET body = excluded.body, origin = excluded.origin, "
            "updated_at = excluded.updated_at",
            name, body, origin, iso(now),
        )  # fmt: skip
        return not existed

    async def delete(self, table: str, name: str) -> bool:
        return await self.db.execute(f"DELETE FROM {table} WHERE name = ?", name) > 0

    # --- alerts ---------------------------------------------------------------------------------
    async def active(self, key: str) -> dict[str, Any] | None:
        rows = await self.db.fetch(
            "SELECT * FROM alerts WHERE alert_key = ? AND state IN ('firing', 'acknowledged')", key
        )
        return rows[0] if rows else None

    async def active_of_rule(self, rule: str) -> list[dict[str, Any]]:
        return await self.db.fetch("SELECT * FROM alerts WHERE rule = ? AND state IN ('firing', 'acknowledged')", rule)

    async def all_active(self) -> list[dict[str, Any]]:
        return await self.db.fetch("SELECT * FROM alerts WHERE state IN ('firing', 'acknowledged')")

    async def get(self, alert_id: str) -> dict[str, Any] | None:
        rows = await self.db.fetch("SELECT * FROM alerts WHERE alert_id = ?", alert_id)
        return rows[0] if rows else None

    async def history(self, state: str | None, rule: str | None, limit: int) -> list[dict[str, Any]]:
        where, params = [], []
        if state:
            where.append("state = ?")
            params.append(state)
        if rule:
            where.append("rule = ?")
            params.append(rule)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        return await self.db.fetch(
            f"SELECT * FROM alerts {clause}ORDER BY started_at DESC, alert_id LIMIT {int(limit)}", *params
        )

    @staticmethod
    def insert_alert(row: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        columns = list(row)
        return (
            f"INSERT INTO alerts ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
            tuple(row[c] for c in columns),
        )

    @staticmethod
    def update_alert(alert_id: str, changes: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
        sets = ", ".join(f"{c} = ?" for c in changes)
        return f"UPDATE alerts SET {sets} WHERE alert_id = ?", (*changes.values(), alert_id)

    @staticmethod
    def enqueue(alert_id: str, notifier: str, event: str, now: datetime, due: datetime) -> tuple[str, tuple[Any, ...]]:
        return (
            "INSERT INTO alert_outbox (outbox_id, alert_id, notifier, event, state, attempts, created_at,"
            " next_attempt_at) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?)",
            (str(uuid.uuid4()), alert_id, notifier, event, iso(now), iso(due)),
        )

    # --- streaks (consecutive failures / successes of one app and key) ----------------------------
    async def streak(self, key: str) -> tuple[int, int]:
        rows = await self.db.fetch("SELECT failures, successes FROM alert_streaks WHERE streak_key = ?", key)
        return (int(rows[0]["failures"]), int(rows[0]["successes"])) if rows else (0, 0)

    async def set_streak(self, key: str, failures: int, successes: int, now: datetime) -> None:
        await self.db.execute(
            "INSERT INTO alert_streaks (streak_key, failures, successes, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (streak_key) DO UPDATE SET failures = excluded.failures, "
            "successes = excluded.successes, updated_at = excluded.updated_at",
            key, failures, successes, iso(now),
        )  # fmt: skip

    # --- outbox ---------------------------------------------------------------------------------
    async def due(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        return await self.db.fetch(
            "SELECT * FROM alert_outbox WHERE state = 'pending' AND next_attempt_at <= ? "
            f"ORDER BY next_attempt_at, created_at LIMIT {int(limit)}",
            iso(now),
        )

    async def next_due(self) -> str | None:
        rows = await self.db.fetch("SELECT min(next_attempt_at) AS due FROM alert_outbox WHERE state = 'pending'")
        return rows[0]["due"] if rows and rows[0]["due"] else None

    async def mark_sent(self, outbox_id: str, now: datetime) -> None:
        await self.db.execute(
            "UPDATE alert_outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1 WHERE outbox_id = ?",
            iso(now), outbox_id,
        )  # fmt: skip

    async def mark_failed(self, outbox_id: str, error: str, retry_at: datetime | None) -> None:
        if retry_at is None:
            await self.db.execute(
                "UPDATE alert_outbox SET state = 'dead', attempts = attempts + 1, last_error = ? WHERE outbox_id = ?",
                error[:500], outbox_id,
            )  # fmt: skip
            return
        await self.db.execute(
            "UPDATE alert_outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE outbox_id = ?",
            error[:500], iso(retry_at), outbox_id,
        )  # fmt: skip

    async def outbox(self) -> list[dict[str, Any]]:
        return await self.db.fetch("SELECT * FROM alert_outbox ORDER BY created_at, outbox_id")
