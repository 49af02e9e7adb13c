"""One small SQL interface over both stores, for the alerting tables and read-only job queries.

Statements are written with `?` placeholders; on PostgreSQL they become `$1, $2 ...`. The alerting
tables hold ISO text times on both backends; the jobs table holds timestamptz on PostgreSQL, so job
queries pass times through `moment()` and read them back through `text_time()`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ..liveness import iso
from ..store import Store
from ..store.postgres import PostgresStore
from ..store.sqlite import SqliteStore

_PLACEHOLDER = re.compile(r"\?")


class AlertDb:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.postgres = isinstance(store, PostgresStore)

    def _sql(self, sql: str) -> str:
        if not self.postgres:
            return sql
        counter = iter(range(1, 10_000))
        return _PLACEHOLDER.sub(lambda _m: f"${next(counter)}", sql)

    def moment(self, when: datetime) -> Any:
        """A time parameter for a jobs-table comparison."""
        return when if self.postgres else iso(when)

    @staticmethod
    def text_time(value: Any) -> str | None:
        if value is None:
            return None
        return iso(value) if isinstance(value, datetime) else str(value)

    async def fetch(self, sql: str, *params: Any) -> list[dict[str, Any]]:
        if isinstance(self.store, PostgresStore):
            return [dict(r) for r in await self.store.pool.fetch(self._sql(sql), *params)]
        assert isinstance(self.store, SqliteStore)
        lite = self.store

        def run() -> list[dict[str, Any]]:
            return [dict(r) for r in lite.conn.execute(sql, params).fetchall()]

        return await lite._run(run)

    async def execute(self, sql: str, *params: Any) -> int:
        """Run one statement; returns the number of rows it changed."""
        if isinstance(self.store, PostgresStore):
            status = await self.store.pool.execute(self._sql(sql), *params)
            tail = status.rsplit(" ", 1)[-1]
            return int(tail) if tail.isdigit() else 0
        assert isinstance(self.store, SqliteStore)
        lite = self.store
        return await lite._run(lambda: lite.conn.execute(sql, params).rowcount)

    async def many(self, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Run statements in one transaction (all or none)."""
        if not statements:
            return
        if isinstance(self.store, PostgresStore):
            async with self.store.pool.acquire() as conn, conn.transaction():
                for sql, params in statements:
                    await conn.execute(self._sql(sql), *params)
            return
        assert isinstance(self.store, SqliteStore)
        lite = self.store

        def run() -> None:
            conn = lite.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in statements:
                    conn.execute(sql, params)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

        await lite._run(run)
