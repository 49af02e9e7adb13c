"""cassandra backend: one row per event in a table partitioned by (site_id, day).

conformance/backends/cassandra.md is the normative shape. Through DataStax's Python driver
(`cassandra-driver`): its calls are thread/callback based, so connecting, creating the schema and
preparing run in a worker thread (asyncio.to_thread), and each write is `execute_async`, whose
callbacks resolve an asyncio future (call_soon_threadsafe): the sidecar's event loop never blocks.

- Table `<keyspace>.<table>`: PRIMARY KEY ((site_id, day), at, event_id), clustered by (at, event_id);
  created when missing, with the keyspace (replication from the config), unless create_schema is off.
- One prepared INSERT. A delivery batch is grouped by partition (site_id, UTC day of `at`); each
  group is written as UNLOGGED batches of that partition only (never a multi-partition batch),
  at most MAX_ROWS_PER_STATEMENT rows and about MAX_BYTES_PER_STATEMENT bytes each. Partitions are
  written concurrently (at most `concurrency` in flight).
- Idempotent: an INSERT is an upsert by primary key; a replay writes the same cells again, the
  row count never changes. So a batch that failed part-way is simply written again.
- Unavailable, timeouts, overload, no host, a lost connection → TransientError. A partition's batch
  refused as invalid (InvalidRequest: e.g. a mutation over the node's maximum size) is written again
  row by row; a row refused on its own is dead-lettered with the node's reason, its neighbours are
  written.
"""

from __future__ import annotations

import asyncio
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import msgspec
from cassandra import (  # type: ignore[import-untyped]
    ConsistencyLevel,
    InvalidRequest,
)
from cassandra.auth import PlainTextAuthProvider  # type: ignore[import-untyped]
from cassandra.cluster import Cluster, Session  # type: ignore[import-untyped]
from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy  # type: ignore[import-untyped]
from cassandra.query import BatchStatement, BatchType, PreparedStatement  # type: ignore[import-untyped]

from .base import Backend, Batch, ConfigurationError, PermanentError, TransientError, config_struct

#: The seeds' flat fields taken from `metrics` when the event carries them.
METRIC_FIELDS = ("duration_s", "cpu_user_s", "mem_max_mb")
#: Columns in table order after the primary key (see conformance/backends/cassandra.md).
COLUMNS = (
    "site_id", "day", "at", "event_id", "app_name", "entity_type", "event_kind", "status", "entity_id",
    "parent_id", "seq", "duration_s", "cpu_user_s", "mem_max_mb", "event",
)  # fmt: skip
MAX_ROWS_PER_STATEMENT = 100
#: Bytes of event JSON per partition batch: far below the default maximum mutation (16 MiB, half the
#: commit log segment) and the 16 MiB protocol frame, so one batch never meets either.
MAX_BYTES_PER_STATEMENT = 1024 * 1024
_NAME = r"^[A-Za-z][A-Za-z0-9_]{0,47}$"  # an unquoted CQL identifier
_OPTION = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class CassandraConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The `config` block."""

    contact_points: Annotated[list[str], msgspec.Meta(min_length=1)]  # host names or addresses
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 9042  # the native transport port
    keyspace: Annotated[str, msgspec.Meta(pattern=_NAME)] = "wafermon"
    table: Annotated[str, msgspec.Meta(pattern=_NAME)] = "events"
    # CREATE KEYSPACE ... WITH replication = {...} when the keyspace is missing
    replication: dict[str, str | int] = msgspec.field(
        default_factory=lambda: {"class": "SimpleStrategy", "replication_factor": 1}
    )
    create_schema: bool = True  # create the keyspace and table when missing
    username: str | None = None  # PasswordAuthenticator ...
    password: str | None = None  # ... with this password (as ${ENV})
    local_dc: str | None = None  # the data centre to write to (DCAwareRoundRobinPolicy)
    consistency: Literal["ONE", "TWO", "THREE", "QUORUM", "LOCAL_QUORUM", "LOCAL_ONE", "EACH_QUORUM", "ALL"] = (
        "LOCAL_QUORUM"
    )
    timeout: Annotated[float, msgspec.Meta(gt=0, le=600)] = 10.0  # seconds: connecting and each request
    concurrency: Annotated[int, msgspec.Meta(ge=1, le=64)] = 8  # partition batches in flight


def event_time(at: Any) -> datetime:
    """The event's `at` (RFC 3339 with an offset) as an aware UTC datetime; ValueError otherwise."""
    moment = datetime.fromisoformat(str(at))
    if moment.tzinfo is None:
        raise ValueError(f"event time {at!r} has no UTC offset")
    return moment.astimezone(UTC)


def to_row(event: Mapping[str, Any], event_json: str) -> tuple[Any, ...]:
    """The row for one event, in COLUMNS order: the partition key (site_id, UTC day of `at`), the
    clustering key (`at` as a timestamp, event_id), the flat fields (a metric the event lacks is
    null) and the event's JSON text as received. ValueError when it has no partition key."""
    site_id = event.get("site_id")
    if not isinstance(site_id, str) or not site_id:
        raise ValueError("the event has no site_id for the partition key")
    moment = event_time(event.get("at"))
    app = event.get("app")
    metrics = event.get("metrics")
    metrics = metrics if isinstance(metrics, Mapping) else {}
    seq = event.get("seq")
    return (
        site_id,
        moment.date(),
        moment,
        str(event.get("event_id")),
        app.get("name") if isinstance(app, Mapping) else None,
        event.get("entity_type"),
        event.get("event_kind"),
        event.get("status"),
        event.get("entity_id"),
        event.get("parent_id"),
        seq if isinstance(seq, int) else None,
        *(float(metrics[m]) if isinstance(metrics.get(m), int | float) else None for m in METRIC_FIELDS),
        event_json,
    )


def create_table_cql(keyspace: str, table: str) -> str:
    return (
        f"CREATE TABLE IF NOT EXISTS {keyspace}.{table} ("
        "site_id text, day date, at timestamp, event_id text, app_name text, entity_type text,"
        " event_kind text, status text, entity_id text, parent_id text, seq bigint, duration_s double,"
        " cpu_user_s double, mem_max_mb double, event text,"
        " PRIMARY KEY ((site_id, day), at, event_id))"
        " WITH CLUSTERING ORDER BY (at ASC, event_id ASC)"
    )


def partition_batches(
    rows: Mapping[int, tuple[Any, ...]],
    max_rows: int = MAX_ROWS_PER_STATEMENT,
    max_bytes: int = MAX_BYTES_PER_STATEMENT,
) -> list[list[int]]:
    """The batch positions grouped by partition (site_id, day), each group cut into runs of at most
    `max_rows` rows and about `max_bytes` bytes of event JSON (a larger row goes alone)."""
    groups: dict[tuple[str, date], list[int]] = {}
    for position, row in rows.items():
        groups.setdefault((row[0], row[1]), []).append(position)
    runs: list[list[int]] = []
    for positions in groups.values():
        run: list[int] = []
        size = 0
        for position in positions:
            length = len(rows[position][-1])
            if run and (len(run) >= max_rows or size + length > max_bytes):
                runs.append(run)
                run, size = [], 0
            run.append(position)
            size += length
        runs.append(run)
    return runs


def _cql_map(options: Mapping[str, str | int], name: str) -> str:
    for key, value in options.items():
        if not _OPTION.match(key) or not _OPTION.match(str(value)):
            raise ConfigurationError(
                f"backend {name!r}: config.replication.{key} must be letters, digits, _ . - (got {value!r})"
            )
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in options.items()) + "}"


def _transient(exc: Exception) -> bool:
    """True for the driver's errors a later attempt can get past: anything but a refused request."""
    return not isinstance(exc, InvalidRequest)


class CassandraBackend(Backend):
    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self.settings = config_struct(CassandraConfig, config, name)
        s = self.settings
        if (s.username is None) != (s.password is None):
            raise ConfigurationError(f"backend {name!r}: config.username and config.password go together")
        if "class" not in s.replication:
            raise ConfigurationError(f"backend {name!r}: config.replication needs a 'class' (e.g. SimpleStrategy)")
        self.replication = _cql_map(s.replication, name)
        self.cluster: Any = None
        self.session: Session | None = None
        self.insert: PreparedStatement | None = None
        self._connect_lock = asyncio.Lock()

    async def initialize(self) -> None:
        """Nothing to open yet: the first send connects (a node that is down is a TransientError there)."""

    def _connect(self) -> tuple[Any, Session, PreparedStatement]:
        """Blocking: connect, create the schema when missing, prepare the insert (run in a thread)."""
        s = self.settings
        auth = PlainTextAuthProvider(s.username, s.password) if s.username is not None else None
        policy = TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=s.local_dc))
        cluster = Cluster(
            s.contact_points,
            port=s.port,
            auth_provider=auth,
            load_balancing_policy=policy,
            connect_timeout=s.timeout,
            control_connection_timeout=s.timeout,
            protocol_version=5,
        )
        try:
            session = cluster.connect()
            session.default_timeout = s.timeout
            if s.create_schema:
                session.execute(f"CREATE KEYSPACE IF NOT EXISTS {s.keyspace} WITH replication = {self.replication}")
                session.execute(create_table_cql(s.keyspace, s.table))
            insert = session.prepare(
                f"INSERT INTO {s.keyspace}.{s.table} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
            )
            insert.is_idempotent = True
            insert.consistency_level = getattr(ConsistencyLevel, s.consistency)
        except BaseException:
            cluster.shutdown()
            raise
        return cluster, session, insert

    async def _ensure_session(self) -> tuple[Session, PreparedStatement]:
        async with self._connect_lock:
            if self.session is None or self.insert is None:
                try:
                    self.cluster, self.session, self.insert = await asyncio.to_thread(self._connect)
                except Exception as exc:  # the driver's NoHostAvailable, timeouts, auth refused, ...
                    raise TransientError(f"Cassandra {self._where()}: {type(exc).__name__}: {exc}") from exc
            return self.session, self.insert

    def _where(self) -> str:
        return f"{','.join(self.settings.contact_points)}:{self.settings.port}"

    async def _execute(self, session: Session, statement: Any) -> None:
        """execute_async, awaited on this loop through the driver's callbacks."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()

        def settle(setter: Callable[[Any], None], value: Any) -> None:
            if not done.done():
                setter(value)

        future = session.execute_async(statement, timeout=self.settings.timeout)
        future.add_callbacks(
            lambda _rows: loop.call_soon_threadsafe(settle, done.set_result, None),
            lambda exc: loop.call_soon_threadsafe(settle, done.set_exception, exc),
        )
        await done

    def _statement(self, insert: PreparedStatement, bound: Sequence[Any]) -> Any:
        """One bound INSERT alone, or an UNLOGGED batch of several (all of one partition)."""
        if len(bound) == 1:
            return bound[0]
        batch = BatchStatement(batch_type=BatchType.UNLOGGED, consistency_level=insert.consistency_level)
        for statement in bound:
            batch.add(statement)
        return batch

    async def send_batch(self, batch: Batch) -> None:
        session, insert = await self._ensure_session()
        events = batch.events()
        raw = batch.raw
        refused: dict[int, str] = {}
        rows: dict[int, tuple[Any, ...]] = {}
        bound: dict[int, Any] = {}
        for position, event in enumerate(events):
            try:
                row = to_row(event, raw[position].decode())
                bound[position] = insert.bind(row)  # a value the column type cannot hold fails here
            except ValueError as exc:
                refused[position] = f"no row for this event: {exc}"
                continue
            except (TypeError, OverflowError, struct.error) as exc:
                refused[position] = f"a value does not fit its column: {type(exc).__name__}: {exc}"
                continue
            rows[position] = row
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def write(positions: list[int]) -> None:
            async with gate:
                try:
                    await self._execute(session, self._statement(insert, [bound[p] for p in positions]))
                    return
                except Exception as exc:
                    if _transient(exc):
                        raise TransientError(f"Cassandra {self._where()}: {type(exc).__name__}: {exc}") from exc
                    if len(positions) == 1:
                        refused[positions[0]] = f"the node refused the row: {type(exc).__name__}: {exc}"
                        return
            for position in positions:  # refused as a whole: find the row(s) it cannot take
                await write([position])

        results = await asyncio.gather(*(write(run) for run in partition_batches(rows)), return_exceptions=True)
        failures = [r for r in results if isinstance(r, BaseException)]
        if failures:
            raise failures[0]
        if refused:
            first = refused[min(refused)]
            raise PermanentError(f"{len(refused)} of {len(batch)} event(s) refused; the first: {first}", refused)

    async def health(self) -> dict[str, Any]:
        return {
            "contact_points": self.settings.contact_points,
            "port": self.settings.port,
            "table": f"{self.settings.keyspace}.{self.settings.table}",
            "connected": self.session is not None,
        }

    async def close(self) -> None:
        if self.cluster is not None:
            cluster, self.cluster, self.session = self.cluster, None, None
            await asyncio.to_thread(cluster.shutdown)
