"""The outbox dispatcher: sends due notifications, marks them sent, retries failures with backoff.

Delivery is at least once: a row is marked sent only after the peer accepted it, so a gateway killed
between the two (kill -9) sends that one message again after restart — at most one duplicate per
notification, which receivers can drop by its notification_id. A clean stop waits for the send in
flight. Rows are never deleted by the dispatcher; a row pending longer than max_pending_age_s is
marked dead and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from .notifiers.base import Message, Notifier
from .repo import AlertRepo, alert_view
from .settings import AlertingSettings

log = logging.getLogger("wafermon.gateway.alerting")


class Dispatcher:
    def __init__(
        self,
        repo: AlertRepo,
        settings: AlertingSettings,
        notifier_of: Callable[[str], Notifier | None],
        kind_of: Callable[[str], str],
        on_result: Callable[[str, bool], None],
        active: Callable[[], bool] = lambda: True,
    ) -> None:
        """active: whether this gateway sends (the evaluator among gateways sharing a store)."""
        self.repo = repo
        self.settings = settings
        self.notifier_of = notifier_of
        self.kind_of = kind_of
        self.on_result = on_result
        self.active = active
        self.wake = asyncio.Event()

    def backoff(self, attempts: int) -> float:
        return float(min(self.settings.backoff_max_s, self.settings.backoff_initial_s * 2 ** min(attempts, 30)))

    async def run_once(self, now: datetime | None = None) -> int:
        """Send everything due; returns how many were delivered."""
        delivered = 0
        for row in await self.repo.due(now or datetime.now(UTC)):
            if await self._deliver(row):
                delivered += 1
        return delivered

    async def _deliver(self, row: dict[str, Any]) -> bool:
        now = datetime.now(UTC)
        notifier = self.notifier_of(row["notifier"])
        alert = await self.repo.get(row["alert_id"])
        if notifier is None or alert is None:
            why = f"notifier {row['notifier']!r} is not configured" if notifier is None else "alert is gone"
            if now - datetime.fromisoformat(row["created_at"]) > timedelta(seconds=self.settings.max_pending_age_s):
                await self.repo.mark_failed(row["outbox_id"], why, None)
            else:  # the notifier may be (re)defined through the API: keep it pending
                await self.repo.mark_failed(
                    row["outbox_id"], why, now + timedelta(seconds=self.backoff(row["attempts"]))
                )
            return False
        view = alert_view(alert)
        view["kind"] = self.kind_of(view["rule"])
        message = Message(row["outbox_id"], row["event"], view, self.settings.dashboard_url)
        try:
            await asyncio.wait_for(notifier.send(message), self.settings.send_timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # any failure of a notifier, ours or a plug-in's, is retried
            self.on_result(row["notifier"], False)
            age = now - datetime.fromisoformat(row["created_at"])
            retry = None if age > timedelta(seconds=self.settings.max_pending_age_s) else (
                now + timedelta(seconds=self.backoff(row["attempts"])))  # fmt: skip
            text = str(exc) or type(exc).__name__
            log.warning("notification %s via %s failed (attempt %d): %s", row["outbox_id"], row["notifier"],
                        row["attempts"] + 1, text)  # fmt: skip
            await self.repo.mark_failed(row["outbox_id"], text, retry)
            return False
        await self.repo.mark_sent(row["outbox_id"], datetime.now(UTC))
        self.on_result(row["notifier"], True)
        return True

    async def loop(self) -> None:
        while True:
            try:
                due = None
                if self.active():
                    await self.run_once()
                    due = await self.repo.next_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store may be down: try again shortly
                log.warning("outbox dispatch failed: %s", exc)
                due = None
            wait = 5.0
            if due is not None:
                wait = max(0.05, min(5.0, (datetime.fromisoformat(due) - datetime.now(UTC)).total_seconds()))
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), wait)


def decode(value: str) -> Any:
    return msgspec.json.decode(value)
