"""Wake-ups for stream subscribers when new changes are committed.

The bus carries only the newest change id, not rows: each subscriber then reads the rows after its
own position with its own filters from the store. That keeps one code path for live delivery and
resume (Last-Event-ID), and works the same whether the wake-up came from this process (SQLite) or
from another gateway through PostgreSQL LISTEN/NOTIFY.
"""

from __future__ import annotations

import asyncio
import contextlib


class ChangeBus:
    def __init__(self) -> None:
        self._latest = 0
        self._changed = asyncio.Event()
        self.subscribers = 0

    @property
    def latest(self) -> int:
        return self._latest

    def publish(self, change_id: int) -> None:
        """Record that changes up to change_id are committed and wake every waiter."""
        if change_id <= self._latest:
            return
        self._latest = change_id
        # Swap the event so waiters that wake and re-wait do not spin on a still-set flag.
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_beyond(self, position: int, timeout: float) -> bool:
        """True once a change newer than position is published; False after timeout."""
        if self._latest > position:
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)
        return self._latest > position
