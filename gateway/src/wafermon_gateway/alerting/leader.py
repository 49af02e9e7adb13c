"""One evaluator among gateways sharing a PostgreSQL store, by PostgreSQL advisory locks.

- The evaluator lock is held for as long as a gateway is the evaluator, on a connection of its own:
  only its holder runs the alerting timer (windowed rules, monitors, repeats) and the outbox
  dispatcher, so each notification is sent by one gateway. The others try to take it every
  `retry_s`; when the holder dies its connection closes, PostgreSQL releases the lock, and another
  gateway takes over within `retry_s`.
- The evaluation lock is taken around every evaluation (on ingest, on any gateway, and the timer's),
  so two gateways never race to open the same alert.

On SQLite (one gateway per file) every gateway is the evaluator and the locks are no-ops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg

from ..store import Store
from ..store.postgres import PostgresStore

log = logging.getLogger("wafermon.gateway.alerting")

# Arbitrary fixed 64-bit keys, the same in every gateway ("wafermon" in ASCII, then +1).
EVALUATOR_KEY = 0x7761666572_6D6F6E
EVALUATION_KEY = EVALUATOR_KEY + 1


class Leadership:
    def __init__(self, store: Store, retry_s: float) -> None:
        self.store = store
        self.retry_s = retry_s
        self.shared = isinstance(store, PostgresStore)
        self.is_evaluator = not self.shared
        self._conn: asyncpg.Connection | None = None

    async def hold(self) -> None:
        """Run for the gateway's lifetime: take the evaluator lock and keep its connection open.

        While the store is unreachable the evaluator stays the evaluator (so store_unreachable is told
        by one gateway); once it is back the lock is taken again, or given up if another has it."""
        if not isinstance(self.store, PostgresStore):
            return
        holding = False
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    holding = False  # a new session holds no lock
                    self._conn = await asyncpg.connect(self.store.settings.database_url, timeout=self.retry_s)
                if not holding:
                    holding = bool(await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", EVALUATOR_KEY))
                    if holding and not self.is_evaluator:
                        log.info("this gateway is the alerting evaluator")
                    self.is_evaluator = holding
                else:
                    await self._conn.fetchval("SELECT 1")  # notice a lost connection (and so a lost lock)
            except asyncio.CancelledError:
                await self.close()
                raise
            except Exception as exc:  # the store may be down: retake the lock once it is back
                log.warning("alerting evaluator lock: %s", str(exc) or type(exc).__name__)
                holding = False
                await self.close()
            await asyncio.sleep(self.retry_s)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close(timeout=2)

    @contextlib.asynccontextmanager
    async def evaluation(self) -> AsyncIterator[None]:
        """Serialise an evaluation across gateways (waits for the other gateway's to finish)."""
        if not isinstance(self.store, PostgresStore):
            yield
            return
        async with self.store.pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1)", EVALUATION_KEY)
            try:
                yield
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", EVALUATION_KEY)
