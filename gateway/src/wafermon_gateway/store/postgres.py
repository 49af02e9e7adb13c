"""The PostgreSQL store: asyncpg pool, COPY-staged ingest, LISTEN/NOTIFY wake-ups.

Ingest copies a batch into a per-connection temporary staging table (binary COPY, the fastest path
into PostgreSQL), then moves it into `events` with INSERT ... ON CONFLICT DO NOTHING RETURNING, so
the database itself says which events are new. Only new events are folded into job state.
Writers take one transaction-scoped advisory lock: it keeps change ids committed in the order they
were issued (a stream reader that saw id N never later finds an N-1) and makes the read-fold-write
of job state safe across several gateways sharing one database.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg

from ..batch import Prepared
from ..liveness import iso
from ..query import Filters, ListQuery
from ..reducer import EntityState
from . import base, hourly, partitions, timescale
from .base import EVENT_COLUMNS, KINDS, STATE_COLUMNS, TIME_COLUMNS, IngestResult, Store, now_iso
from .migrations import EVENT_COLUMNS_PG, POSTGRES, SCHEMA_MIGRATIONS_SQL

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Conn = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]

log = logging.getLogger("wafermon.gateway.postgres")
CHANNEL = "wafermon_changes"
WRITE_LOCK = 0x7761666572  # "wafer": the writers' advisory lock key
MIGRATE_LOCK = 0x77616D6967
_TERMINAL_SQL = "('succeeded', 'failed', 'cancelled')"
_DIALECT = base.Dialect(lambda n: f"${n}", datetime.fromisoformat, "ILIKE")  # asyncpg binds datetimes
# State rows are COPYed into a per-connection staging table, then upserted in one statement:
# binary COPY encodes a row several times faster than executemany's bind-per-row.
_UPSERT = {
    table: f"INSERT INTO {table} ({', '.join(STATE_COLUMNS)}) SELECT {', '.join(STATE_COLUMNS)} FROM {table}_stage "
    "ON CONFLICT (entity_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in STATE_COLUMNS if c != "entity_id")
    for table in ("jobs", "subjobs")
}
_TIME_POSITIONS = frozenset(i for i, c in enumerate(STATE_COLUMNS) if c in TIME_COLUMNS)


def _dt(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _normalise(record: asyncpg.Record) -> dict[str, Any]:
    """A row with the SQLite store's value types: str ids, ISO times, JSON as text."""
    row = dict(record)
    for column in ("entity_id", "parent_id"):
        if row.get(column) is not None:
            row[column] = str(row[column])
    for column in TIME_COLUMNS:
        if row.get(column) is not None:
            row[column] = iso(row[column])
    return row


async def apply_migrations(conn: Any, partition_hours: int, retention_hours: float, compress_after: float) -> str:
    """Apply pending migrations; returns the events storage mode. `conn` is an asyncpg connection
    (or a test double with execute/fetch/fetchval and a transaction() context manager)."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATE_LOCK)
        await conn.execute(SCHEMA_MIGRATIONS_SQL)
        applied = {row[0] for row in await conn.fetch("SELECT version FROM schema_migrations")}
        mode = await conn.fetchval("SELECT value FROM gateway_meta WHERE key = 'events_mode'") if applied else None
        if mode is None:
            mode = "partitioned"
            if await conn.fetchval(timescale.DETECT_SQL):
                try:
                    async with conn.transaction():  # a savepoint: a failure here must not abort the rest
                        await conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
                    mode = "timescaledb"
                except asyncpg.PostgresError as exc:  # e.g. not in shared_preload_libraries, or no privilege
                    log.warning("TimescaleDB is available but cannot be enabled (%s); using native partitions", exc)
        for migration in POSTGRES:
            if migration.version in applied:
                continue
            for statement in migration.sql(mode, partition_hours, retention_hours, compress_after):
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations VALUES ($1, $2, $3)",
                migration.version,
                migration.name,
                iso(datetime.now(UTC)),
            )
            if migration.version == 1:
                await conn.execute("INSERT INTO gateway_meta VALUES ('events_mode', $1)", mode)
        if mode == "timescaledb":
            for statement in timescale.retention_sql(retention_hours):
                await conn.execute(statement)
    return str(mode)


class PostgresStore(Store):
    name = "postgres"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None
        self.mode = "partitioned"
        self._partitions: set[datetime] = set()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("store is not open")
        return self._pool

    # --- lifecycle -------------------------------------------------------------------------
    async def open(self) -> None:
        s = self.settings
        conn = await asyncpg.connect(s.database_url)
        try:
            self.mode = await apply_migrations(conn, s.partition_hours, s.retention_hours, s.compress_after_hours)
        finally:
            await conn.close()
        self._pool = await asyncpg.create_pool(
            s.database_url, min_size=s.pool_min_size, max_size=s.pool_max_size, init=self._init_connection
        )
        await self.maintain(datetime.now(UTC))  # also starts LISTEN (maintenance re-establishes it if lost)
        self.bus.publish(await self.latest_change())

    @staticmethod
    async def _init_connection(conn: Conn) -> None:
        # Staging tables private to this connection, emptied by every commit.
        await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS events_stage ({EVENT_COLUMNS_PG}) ON COMMIT DELETE ROWS")
        for table in KINDS.values():
            await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table}_stage (LIKE {table}) ON COMMIT DELETE ROWS")

    async def _listen(self) -> None:
        try:
            self._listener = await asyncpg.connect(self.settings.database_url)
            await self._listener.add_listener(CHANNEL, self._on_notify)
        except (OSError, asyncpg.PostgresError) as exc:  # the stream still polls; log and go on
            log.warning("LISTEN %s failed: %s", CHANNEL, exc)
            self._listener = None

    def _on_notify(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        if isinstance(payload, str) and payload.isdigit():
            self.bus.publish(int(payload))

    async def ensure_listening(self) -> None:
        if self._listener is None or self._listener.is_closed():
            await self._listen()

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def ping(self) -> None:
        await self.pool.fetchval("SELECT 1")

    # --- partitions ------------------------------------------------------------------------
    async def _ensure_partitions(self, conn: Conn, moments: list[datetime]) -> None:
        if self.mode != "partitioned" or not moments:
            return
        hours = self.settings.partition_hours
        wanted = partitions.starts_between(min(moments), max(moments), hours)
        for start in wanted:
            if start not in self._partitions:
                await conn.execute(partitions.create_sql(start, hours))
                self._partitions.add(start)

    # --- ingest ----------------------------------------------------------------------------
    async def ingest(self, events: list[Prepared], now: datetime) -> IngestResult:
        unique, duplicates = base.dedupe(events)
        horizon = base.raw_horizon(self.settings, now)
        raw = [p for p in unique if p.at >= horizon]
        old = [p for p in unique if p.at < horizon]
        async with self.pool.acquire() as conn:
            await self._ensure_partitions(conn, [p.at for p in raw])
            try:
                new, latest = await self._write(conn, raw, old, now, staged=False)
            except asyncpg.UniqueViolationError:
                # Only if a writer that skips the lock raced us: redo via staging + ON CONFLICT.
                new, latest = await self._write(conn, raw, old, now, staged=True)
        duplicates += len(raw) + len(old) - len(new)
        self.note_ingest(events, now)
        if latest is not None:
            self.bus.publish(latest)
        return IngestResult(accepted=len(new), duplicates=duplicates, last_change=latest or self.bus.latest)

    async def _write(
        self, conn: Conn, raw: list[Prepared], old: list[Prepared], now: datetime, staged: bool
    ) -> tuple[list[Prepared], int | None]:
        """One transaction: keep the new raw events, fold them into state. Returns (new, newest change id).

        Under the writers' lock, the fast path asks which events already exist (a primary-key probe)
        and COPYs only the rest straight into `events` (each row written once). The staged path
        COPYs into a temporary table and lets INSERT ... ON CONFLICT DO NOTHING decide.
        """
        async with conn.transaction():
            records = [base.event_record(p, now) for p in raw]
            if staged and raw:
                await conn.copy_records_to_table("events_stage", columns=EVENT_COLUMNS, records=records)
            await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
            new_ids: set[str] = set()
            if staged and raw:
                inserted = await conn.fetch(
                    "INSERT INTO events SELECT * FROM events_stage ON CONFLICT DO NOTHING RETURNING event_id"
                )
                new_ids = {str(r[0]) for r in inserted}
            elif raw:
                times = [r[1] for r in records]
                # The time range lets the planner prune partitions/chunks the batch cannot be in.
                known = await conn.fetch(
                    "SELECT e.event_id FROM events e JOIN unnest($1::uuid[], $2::timestamptz[]) AS b(id, at) "
                    "ON e.event_id = b.id AND e.at = b.at WHERE e.at BETWEEN $3 AND $4",
                    [r[0] for r in records],
                    times,
                    min(times),
                    max(times),
                )
                seen = {str(r[0]) for r in known}
                fresh = [r for r in records if r[0] not in seen]
                if fresh:
                    await conn.copy_records_to_table("events", columns=EVENT_COLUMNS, records=fresh)
                new_ids = {r[0] for r in fresh}
            new = [p for p in raw if p.facts.event_id in new_ids] + old
            latest = await self._fold(conn, new, now) if new else None
        return new, latest

    async def _allocate(self, conn: Conn, count: int) -> list[int]:
        if count == 0:
            return []
        rows = await conn.fetch("SELECT nextval('change_seq') FROM generate_series(1, $1)", count)
        return [int(r[0]) for r in rows]

    async def _fold(self, conn: Conn, new: list[Prepared], now: datetime) -> int | None:
        """Fold new events into job/sub-job rows; returns the newest change id, None if nothing changed."""
        now_s = now_iso(now)
        await self._upsert_apps(conn, new)
        by_kind = {kind: [p for p in new if p.facts.entity_type == kind] for kind in KINDS}
        ids = {kind: sorted({p.facts.entity_id for p in mine}) for kind, mine in by_kind.items()}
        existing: dict[str, dict[str, tuple[EntityState, str, dict[str, Any]]]] = {"job": {}, "subjob": {}}
        # One round trip for both tables' current rows.
        for found in await conn.fetch(
            "SELECT 'job' AS kind, * FROM jobs WHERE entity_id = ANY($1::uuid[]) "
            "UNION ALL SELECT 'subjob' AS kind, * FROM subjobs WHERE entity_id = ANY($2::uuid[])",
            ids["job"],
            ids["subjob"],
        ):
            row = _normalise(found)
            existing[row["kind"]][row["entity_id"]] = (base.state_from_row(row, row["kind"]), row["status"], row)
        records: dict[str, list[dict[str, Any]]] = {}
        for kind, mine in by_kind.items():
            folded = base.fold_new({k: v[0] for k, v in existing[kind].items()}, mine)
            records[kind] = []
            for eid, state in folded.items():
                prior = existing[kind].get(eid)
                if prior is not None and prior[0].comparable() == state.comparable():
                    continue  # nothing observable changed (e.g. an event older than retention replayed)
                records[kind].append(base.state_record(state, prior[1] if prior else None, self.settings, now_s))
        change_ids = iter(await self._allocate(conn, sum(len(r) for r in records.values())))
        latest: int | None = None
        for kind, table in KINDS.items():
            args = []
            for record in records[kind]:
                record["change_id"] = latest = next(change_ids)
                values = [record[c] for c in STATE_COLUMNS]
                for i in _TIME_POSITIONS:
                    values[i] = _dt(values[i])
                args.append(tuple(values))
            if args:
                await conn.copy_records_to_table(f"{table}_stage", records=args, columns=STATE_COLUMNS)
                await conn.execute(_UPSERT[table])
        aggregate = hourly.Deltas()
        for record in records["job"]:
            prior = existing["job"].get(record["entity_id"])
            aggregate.change(prior[2] if prior else None, record)
        await self._apply(conn, aggregate)
        orphaned = await self._mark_orphans(
            conn,
            "(s.parent_id = ANY($1::uuid[]) OR s.entity_id = ANY($2::uuid[]))",
            [[r["entity_id"] for r in records["job"]], [r["entity_id"] for r in records["subjob"]]],
            now,
        )
        if orphaned:
            latest = max(orphaned)
        if latest is not None:
            await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(latest))
        return latest

    @staticmethod
    async def _apply(conn: Conn, deltas: hourly.Deltas) -> None:
        """The pre-aggregate's share of this transaction (after the jobs rows are written)."""
        for sql, rows in hourly.statements(deltas, postgres=True):
            await conn.executemany(sql, rows)

    async def _mark_orphans(self, conn: Conn, where: str, args: list[Any], now: datetime) -> list[int]:
        """Flag running/lost sub-jobs whose parent is terminal; returns their new change ids."""
        n = len(args)
        rows = await conn.fetch(
            f"UPDATE subjobs s SET status = 'orphaned', change_id = nextval('change_seq'), received_at = ${n + 1} "
            f"WHERE s.status IN ('running', 'lost') AND {where} AND EXISTS (SELECT 1 FROM jobs j "
            f"WHERE j.entity_id = s.parent_id AND j.base_status IN {_TERMINAL_SQL}) RETURNING s.change_id",
            *args,
            now,
        )
        return [int(r[0]) for r in rows]

    async def _upsert_apps(self, conn: Conn, new: list[Prepared]) -> None:
        apps = base.app_rows(new, lambda p: p.at)
        if apps:
            await conn.executemany(
                "INSERT INTO apps VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name, version) DO UPDATE SET "
                "app_id = coalesce(apps.app_id, EXCLUDED.app_id), "
                "first_seen_at = least(apps.first_seen_at, EXCLUDED.first_seen_at), "
                "last_seen_at = greatest(apps.last_seen_at, EXCLUDED.last_seen_at)",
                apps,
            )

    # --- liveness and maintenance ------------------------------------------------------------
    async def sweep(self, now: datetime) -> int:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", WRITE_LOCK)
            changed = len(await self._mark_orphans(conn, "true", [], now))
            for table in KINDS.values():
                lost = await conn.fetch(
                    f"UPDATE {table} SET status = 'lost', change_id = nextval('change_seq'), received_at = $1 "
                    "WHERE status = 'running' AND deadline_at < $1 RETURNING *",
                    now,
                )
                changed += len(lost)
                if table == "jobs" and lost:
                    deltas = hourly.Deltas()
                    for found in lost:
                        row = _normalise(found)
                        deltas.change(row | {"status": "running"}, row)
                    await self._apply(conn, deltas)
            latest = await self._latest(conn)
            if changed:
                await conn.execute("SELECT pg_notify($1, $2)", CHANNEL, str(latest))
        self.bus.publish(latest)
        return changed

    async def maintain(self, now: datetime) -> dict[str, Any]:
        s = self.settings
        report: dict[str, Any] = {"mode": self.mode}
        horizon = base.raw_horizon(s, now)
        async with self.pool.acquire() as conn:
            if self.mode == "partitioned":
                wanted = partitions.starts_between(
                    horizon, now + timedelta(hours=s.partition_hours * s.partitions_ahead), s.partition_hours
                )
                existing = [(r[0], r[1]) for r in await conn.fetch(partitions.LIST_SQL)]
                names = {name for name, _ in existing}
                created = [partitions.partition_name(st) for st in wanted if partitions.partition_name(st) not in names]
                self._partitions = set()
                await self._ensure_partitions(conn, wanted)
                dropped = partitions.to_drop(existing, horizon)
                for name in dropped:
                    await conn.execute(f'DROP TABLE IF EXISTS "{name}"')
                self._partitions = {partitions.partition_start(m, s.partition_hours) for m in wanted}
                report |= {"partitions_created": created, "partitions_dropped": dropped}
            state_horizon = now - timedelta(hours=s.state_retention_hours)
            deleted = 0
            for table in KINDS.values():
                result = await conn.execute(f"DELETE FROM {table} WHERE updated_at < $1", state_horizon)
                deleted += int(result.split()[-1])
            report["state_rows_deleted"] = deleted
        await self.ensure_listening()
        return report

    # --- queries ---------------------------------------------------------------------------
    async def _select(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        return [_normalise(r) for r in await self.pool.fetch(sql, *params)]

    async def list_entities(self, q: ListQuery) -> list[dict[str, Any]]:
        return await self._select(*base.select_page(q, _DIALECT))

    async def get_entity(self, kind: str, entity_id: str) -> dict[str, Any] | None:
        rows = await self._select(f"SELECT * FROM {KINDS[kind]} WHERE entity_id = $1", [entity_id])
        return rows[0] if rows else None

    async def timeline(self, job_id: str, limit: int) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(
            "SELECT body::text AS body, received_at FROM events WHERE job_id = $1 "
            "ORDER BY at, entity_type, seq, event_id LIMIT $2",
            job_id,
            limit,
        )
        return [{"event": base.loads(r["body"]), "received_at": iso(r["received_at"])} for r in rows]

    async def changes(self, f: Filters, after: int, limit: int) -> list[dict[str, Any]]:
        return await self._select(*base.select_changes(f, after, limit, _DIALECT))

    async def _latest(self, conn: Conn) -> int:
        return int(
            await conn.fetchval(
                "SELECT greatest((SELECT max(change_id) FROM jobs), (SELECT max(change_id) FROM subjobs), 0)"
            )
        )

    async def latest_change(self) -> int:
        async with self.pool.acquire() as conn:
            return await self._latest(conn)

    async def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        out: dict[str, list[tuple[Any, ...]]] = {}
        for table in ("apps", "jobs", "subjobs", "events", "schema_migrations", "gateway_meta", *hourly.TABLES):
            rows = await self.pool.fetch(f"SELECT * FROM {table}")
            out[table] = sorted(tuple(str(v) for v in r.values()) for r in rows)
        async with self.pool.acquire() as conn:
            out["change_seq"] = [(await conn.fetchval("SELECT last_value FROM change_seq"),)]
        return out
