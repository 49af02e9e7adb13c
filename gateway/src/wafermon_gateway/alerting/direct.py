"""Messages that cannot wait in the outbox because the store itself is down (store_unreachable).

They are kept in memory, bounded: at most `limit` messages; when full the oldest is dropped (logged
and counted) so the newest outage is the one told. Each is retried with the outbox's backoff on the
alerting timer while the store is down; whatever is still undelivered when the store is back is
handed over (`pending`, then `forget`) to be persisted in the outbox, which then retries it like any notification.
A gateway killed while the store is down loses these messages (they exist nowhere else).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .notifiers.base import Message, Notifier

log = logging.getLogger("wafermon.gateway.alerting")


@dataclass(slots=True)
class DirectMessage:
    rule: str
    notifier: str
    message: Message
    since: datetime  # when the store went away
    attempts: int = 0
    next_attempt_at: datetime | None = None


class DirectQueue:
    def __init__(
        self,
        limit: int,
        send_timeout_s: float,
        backoff: Callable[[int], float],
        on_result: Callable[[str, str], None],
    ) -> None:
        """backoff: attempts -> seconds until the next try; on_result(notifier, "sent"|"failed"|"dropped")."""
        self.limit = limit
        self.send_timeout_s = send_timeout_s
        self.backoff = backoff
        self.on_result = on_result
        self._queue: deque[DirectMessage] = deque()

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, item: DirectMessage) -> None:
        if len(self._queue) >= self.limit:
            dropped = self._queue.popleft()
            log.warning("store_unreachable queue full (%d): dropped the oldest message, rule %s via %s",
                        self.limit, dropped.rule, dropped.notifier)  # fmt: skip
            self.on_result(dropped.notifier, "dropped")
        self._queue.append(item)

    async def send_due(self, notifier_of: Callable[[str], Notifier | None], now: datetime) -> int:
        """Try every message whose retry time has come; returns how many were delivered."""
        delivered = 0
        for item in list(self._queue):
            if item.next_attempt_at is not None and item.next_attempt_at > now:
                continue
            notifier = notifier_of(item.notifier)
            ok = False
            if notifier is not None:
                try:
                    await asyncio.wait_for(notifier.send(item.message), self.send_timeout_s)
                    ok = True
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # any failure of a notifier is retried
                    log.warning("store_unreachable message via %s failed (attempt %d): %s", item.notifier,
                                item.attempts + 1, str(exc) or type(exc).__name__)  # fmt: skip
            item.attempts += 1
            self.on_result(item.notifier, "sent" if ok else "failed")
            if ok:
                self.forget([item])
                delivered += 1
            else:
                item.next_attempt_at = now + timedelta(seconds=self.backoff(item.attempts))
        return delivered

    def pending(self) -> list[DirectMessage]:
        """Everything still undelivered, oldest first."""
        return list(self._queue)

    def forget(self, items: list[DirectMessage]) -> None:
        """Remove items once they are persisted elsewhere."""
        gone = {id(item) for item in items}
        self._queue = deque(item for item in self._queue if id(item) not in gone)
