"""The embedded store: one SQLite file, one connection, one worker thread.

sqlite3 is synchronous, so every call runs on a single dedicated thread; that also serialises
writers, which is what SQLite wants anyway (WAL mode lets the file be read by other tools meanwhile).
One gateway process per file: the stream's wake-ups are in-process.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from ..batch import Prepared
from ..query import Filters, ListQuery
from ..reducer import EntityState
from . import base, hourly
from .base import EVENT_COLUMNS, KINDS, STATE_COLUMNS, IngestResult, Store, now_iso
from .migrations import SCHEMA_MIGRATIONS_SQL, SQLITE

T = TypeVar("T")
_CHUNK = 500
_UPSERT = {
    table: f"INSERT INTO {table} ({', '.join(STATE_COLUMNS)}) VALUES ({', '.join('?' for _ in STATE_COLUMNS)}) "
    f"ON CONFLICT (entity_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in STATE_COLUMNS if c != "entity_id")
    for table in ("jobs", "subjobs")
}
_TERMINAL_SQL = "('succeeded', 'failed', 'cancelled')"
_DIALECT = base.Dialect(lambda _n: "?", str)  # times are stored as ISO text


class SqliteStore(Store):
    name = "sqlite"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wafermon-sqlite")
        self._conn: sqlite3.Connection | None = None

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("store is not open")
        return self._conn

    # --- lifecycle -------------------------------------------------------------------------
    def _open_sync(self) -> int:
        path = self.settings.sqlite_path
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=10000")
        self._conn = conn
        conn.create_function("wafermon_bin", 1, hourly.bin_of, deterministic=True)  # the back-fill's bins
        conn.execute(SCHEMA_MIGRATIONS_SQL)
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for version, name, sql in SQLITE:
            if version in applied:
                continue
            # executescript commits on its own, so wrap the script and its record in one explicit transaction.
            conn.executescript(
                "BEGIN;\n" + sql + f"\nINSERT INTO schema_migrations VALUES ({version}, '{name}', "
                f"'{now_iso(datetime.now(UTC))}');\nCOMMIT;"
            )
        return int(conn.execute("SELECT value FROM counters WHERE name = 'change'").fetchone()[0])

    async def open(self) -> None:
        latest = await self._run(self._open_sync)
        self.bus.publish(latest)

    async def close(self) -> None:
        if self._conn is not None:
            await self._run(self.conn.close)
            self._conn = None
        self._executor.shutdown(wait=True)

    async def ping(self) -> None:
        await self._run(lambda: self.conn.execute("SELECT 1").fetchone())

    # --- ingest ----------------------------------------------------------------------------
    def _allocate(self, count: int) -> list[int]:
        if count == 0:
            return []
        top = int(
            self.conn.execute(
                "UPDATE counters SET value = value + ? WHERE name = 'change' RETURNING value", (count,)
            ).fetchone()[0]
        )
        return list(range(top - count + 1, top + 1))

    def _load_states(self, table: str, kind: str, ids: list[str]) -> dict[str, tuple[EntityState, str, dict[str, Any]]]:
        out: dict[str, tuple[EntityState, str, dict[str, Any]]] = {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            sql = f"SELECT * FROM {table} WHERE entity_id IN ({','.join('?' * len(chunk))})"
            for row in self.conn.execute(sql, chunk):
                d = dict(row)
                out[d["entity_id"]] = (base.state_from_row(d, kind), d["status"], d)
        return out

    def _orphan_sql(self, where: str) -> str:
        return (
            f"SELECT entity_id FROM subjobs WHERE status IN ('running', 'lost') AND {where} AND EXISTS "
            f"(SELECT 1 FROM jobs j WHERE j.entity_id = subjobs.parent_id AND j.base_status IN {_TERMINAL_SQL})"
        )

    def _mark(self, table: str, status: str, ids: list[str], now: str) -> int:
        change_ids = self._allocate(len(ids))
        self.conn.executemany(
            f"UPDATE {table} SET status = ?, change_id = ?, received_at = ? WHERE entity_id = ?",
            [(status, cid, now, eid) for cid, eid in zip(change_ids, ids, strict=True)],
        )
        return len(ids)

    def _ingest_sync(self, events: list[Prepared], now: datetime) -> IngestResult:
        conn = self.conn
        now_s = now_iso(now)
        unique, duplicates = base.dedupe(events)
        horizon = base.raw_horizon(self.settings, now)
        conn.execute("BEGIN IMMEDIATE")
        try:
            known: set[str] = set()
            ids = [p.facts.event_id for p in unique]
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                sql = f"SELECT event_id FROM events WHERE event_id IN ({','.join('?' * len(chunk))})"
                known.update(row[0] for row in conn.execute(sql, chunk))
            new = [p for p in unique if p.facts.event_id not in known]
            duplicates += len(unique) - len(new)
            conn.executemany(
                f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})",
                [base.event_record(p, now_s) for p in new if p.at >= horizon],
            )
            self._upsert_apps(new)
            touched_jobs: list[str] = []
            touched_subjobs: list[str] = []
            aggregate = hourly.Deltas()
            for kind, table in KINDS.items():
                mine = [p for p in new if p.facts.entity_type == kind]
                if not mine:
                    continue
                existing = self._load_states(table, kind, sorted({p.facts.entity_id for p in mine}))
                folded = base.fold_new({k: v[0] for k, v in existing.items()}, mine)
                records = []
                for eid, state in folded.items():
                    prior = existing.get(eid)
                    if prior is not None and prior[0].comparable() == state.comparable():
                        continue  # nothing observable changed (e.g. an event older than retention replayed)
                    records.append(base.state_record(state, prior[1] if prior else None, self.settings, now_s))
                for record, cid in zip(records, self._allocate(len(records)), strict=True):
                    record["change_id"] = cid
                conn.executemany(_UPSERT[table], [tuple(r[c] for c in STATE_COLUMNS) for r in records])
                if kind == "job":
                    for r in records:
                        prior = existing.get(r["entity_id"])
                        aggregate.change(prior[2] if prior else None, r)
                    self._apply(aggregate)
                (touched_jobs if kind == "job" else touched_subjobs).extend(r["entity_id"] for r in records)
            orphans = self._orphans(touched_jobs, touched_subjobs)
            self._mark("subjobs", "orphaned", orphans, now_s)
            latest = int(conn.execute("SELECT value FROM counters WHERE name = 'change'").fetchone()[0])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return IngestResult(accepted=len(new), duplicates=duplicates, last_change=latest)

    def _apply(self, deltas: hourly.Deltas) -> None:
        """The pre-aggregate's share of this transaction (after the jobs rows are written)."""
        for sql, rows in hourly.statements(deltas, postgres=False):
            self.conn.executemany(sql, rows)

    def _orphans(self, jobs: list[str], subjobs: list[str]) -> list[str]:
        found: set[str] = set()
        for column, ids in (("parent_id", jobs), ("entity_id", subjobs)):
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                sql = self._orphan_sql(f"{column} IN ({','.join('?' * len(chunk))})")
                found.update(row[0] for row in self.conn.execute(sql, chunk))
        return sorted(found)

    def _upsert_apps(self, new: list[Prepared]) -> None:
        self.conn.executemany(
            "INSERT INTO apps VALUES (?, ?, ?, ?, ?) ON CONFLICT (name, version) DO UPDATE SET "
            "app_id = coalesce(apps.app_id, excluded.app_id), "
            "first_seen_at = min(apps.first_seen_at, excluded.first_seen_at), "
            "last_seen_at = max(apps.last_seen_at, excluded.last_seen_at)",
            base.app_rows(new, lambda p: p.facts.at),
        )

    async def ingest(self, events: list[Prepared], now: datetime) -> IngestResult:
        result = await self._run(self._ingest_sync, events, now)
        self.note_ingest(events, now)
        self.bus.publish(result.last_change)
        return result

    # --- liveness and maintenance ------------------------------------------------------------
    def _sweep_sync(self, now: datetime) -> tuple[int, int]:
        conn = self.conn
        now_s = now_iso(now)
        conn.execute("BEGIN IMMEDIATE")
        try:
            changed = self._mark("subjobs", "orphaned", [r[0] for r in conn.execute(self._orphan_sql("1 = 1"))], now_s)
            for table in KINDS.values():
                ids = [
                    r[0]
                    for r in conn.execute(
                        f"SELECT entity_id FROM {table} WHERE status = 'running' AND deadline_at < ?", (now_s,)
                    )
                ]
                deltas = self._losing(ids) if table == "jobs" else None
                changed += self._mark(table, "lost", ids, now_s)
                if deltas is not None:
                    self._apply(deltas)
            latest = int(conn.execute("SELECT value FROM counters WHERE name = 'change'").fetchone()[0])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return changed, latest

    def _losing(self, ids: list[str]) -> hourly.Deltas:
        """The pre-aggregate's change when these running jobs turn lost (applied after the rows change)."""
        deltas = hourly.Deltas()
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            sql = f"SELECT * FROM jobs WHERE entity_id IN ({','.join('?' * len(chunk))})"
            for row in self.conn.execute(sql, chunk):
                deltas.change(dict(row), dict(row) | {"status": "lost"})
        return deltas

    async def sweep(self, now: datetime) -> int:
        changed, latest = await self._run(self._sweep_sync, now)
        self.bus.publish(latest)
        return changed

    def _maintain_sync(self, now: datetime) -> dict[str, Any]:
        raw = now_iso(base.raw_horizon(self.settings, now))
        state = now_iso(now - timedelta(hours=self.settings.state_retention_hours))
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            events = conn.execute("DELETE FROM events WHERE at < ?", (raw,)).rowcount
            rows = sum(conn.execute(f"DELETE FROM {t} WHERE updated_at < ?", (state,)).rowcount for t in KINDS.values())
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return {"events_deleted": events, "state_rows_deleted": rows}

    async def maintain(self, now: datetime) -> dict[str, Any]:
        return await self._run(self._maintain_sync, now)

    # --- queries ---------------------------------------------------------------------------
    def _select(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        return [dict(row) for row in self.conn.execute(sql, params)]

    async def list_entities(self, q: ListQuery) -> list[dict[str, Any]]:
        return await self._run(self._select, *base.select_page(q, _DIALECT))

    async def get_entity(self, kind: str, entity_id: str) -> dict[str, Any] | None:
        rows = await self._run(self._select, f"SELECT * FROM {KINDS[kind]} WHERE entity_id = ?", [entity_id])
        return rows[0] if rows else None

    async def timeline(self, job_id: str, limit: int) -> list[dict[str, Any]]:
        rows = await self._run(
            self._select,
            "SELECT body, received_at FROM events WHERE job_id = ? ORDER BY at, entity_type, seq, event_id LIMIT ?",
            [job_id, limit],
        )
        return [{"event": base.loads(r["body"]), "received_at": r["received_at"]} for r in rows]

    async def changes(self, f: Filters, after: int, limit: int) -> list[dict[str, Any]]:
        return await self._run(self._select, *base.select_changes(f, after, limit, _DIALECT))

    async def latest_change(self) -> int:
        rows = await self._run(self._select, "SELECT value FROM counters WHERE name = 'change'", [])
        return int(rows[0]["value"])

    async def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        def run() -> dict[str, list[tuple[Any, ...]]]:
            out = {}
            for table in ("apps", "jobs", "subjobs", "events", "schema_migrations", "counters", *hourly.TABLES):
                rows = self.conn.execute(f"SELECT * FROM {table}").fetchall()
                out[table] = sorted(tuple(r) for r in rows)
            return out

        return await self._run(run)
