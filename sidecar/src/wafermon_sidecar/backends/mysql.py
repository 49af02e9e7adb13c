"""mysql backend (MySQL and MariaDB): one row per event, multi-row inserts, one transaction per batch.

The shape (conformance/backends/mysql.md is normative; mysql_rows.py builds it): a table `table`
(default `wafermon_events`) with `event_id` as primary key, the seeds' flat fields as typed columns
and the whole event as JSON; optionally a `jobs_table` holding each job's and sub-job's latest state,
which only moves forward in (at, seq). Both are created when missing (`create_tables`).

Idempotent: `INSERT ... ON DUPLICATE KEY UPDATE event_id = event_id`, so a replay changes nothing.
A batch is written in one transaction (statements of at most `max_statement_bytes`), committed
before send_batch returns. The session runs in strict mode (`STRICT_ALL_TABLES`), so a value the
table cannot hold is an error, never a silent truncation.

A statement refused for a row's data (data too long, a string the column's charset cannot hold, a
CHECK constraint or trigger, ...: DATA_ERRORS) is rolled back alone by the server; it is split in
halves and each half sent again in the same transaction, down to the single rows that the server
refuses, which are dead-lettered with its reason while their neighbours are committed. At most
2n - 1 statements for a batch of n rows. Every other error (connection lost, deadlock, lock wait,
read-only, access denied, a missing column) rolls the batch back and is a TransientError: the batch
is sent again later, and what an earlier attempt committed is a no-op then.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from typing import Annotated, Any

import asyncmy
import msgspec
from asyncmy import errors as mysql_errors

from . import tls
from .base import Backend, Batch, ConfigurationError, PermanentError, TransientError, config_struct
from .mysql_rows import IDENTIFIER, event_row, events_ddl, insert_events, job_rows, jobs_ddl, upsert_jobs

#: Server error codes that refuse a row for its values: the statement is split to find the row.
DATA_ERRORS = {
    1048: "a NOT NULL column got NULL",
    1264: "a number out of the column's range",
    1265: "data truncated",
    1292: "an incorrect value for the column's type",
    1300: "an invalid character string",
    1366: "a string the column's character set cannot hold",
    1406: "data too long for the column",
    1452: "a foreign key constraint failed",
    1644: "a trigger refused the row",
    3140: "invalid JSON",
    3819: "a CHECK constraint failed",
    4025: "a CHECK constraint failed",
}
# Client-side bytes per row besides the event's JSON text (the typed columns, quoting, commas).
ROW_OVERHEAD_BYTES = 1024
# Kept below the server's max_allowed_packet for the statement's own framing.
PACKET_MARGIN_BYTES = 4096
NO_SUCH_TABLE = 1146
SESSION_SQL_MODE = "STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION"


class MysqlConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The `config` block of a mysql backend."""

    host: str = "127.0.0.1"
    port: Annotated[int, msgspec.Meta(ge=1, le=65535)] = 3306
    unix_socket: str | None = None  # instead of host/port
    user: str = ""
    password: str = ""  # write it as ${NAME}: read from the environment at start-up
    database: str = ""
    table: str = "wafermon_events"
    jobs_table: str | None = None  # the latest state per job id; none: not written
    create_tables: bool = True  # CREATE TABLE IF NOT EXISTS on first use
    tls: bool = False  # TLS to the server (implied by ca_file / cert_file)
    ca_file: str | None = None  # PEM CAs to trust instead of the system's
    cert_file: str | None = None  # client certificate (PEM) ...
    key_file: str | None = None  # ... and its key (may be inside cert_file)
    verify_ssl: bool = True  # check the server's certificate and host name
    connect_timeout: Annotated[float, msgspec.Meta(gt=0, le=300)] = 10.0
    timeout: Annotated[float, msgspec.Meta(gt=0, le=3600)] = 30.0  # one whole batch, seconds
    max_statement_bytes: Annotated[int, msgspec.Meta(ge=65536, le=1 << 30)] = 4 << 20


def _error_code(exc: BaseException) -> int | None:
    args: tuple[Any, ...] = exc.args
    return args[0] if args and isinstance(args[0], int) else None


def _describe(exc: BaseException) -> str:
    args: tuple[Any, ...] = exc.args
    if len(args) >= 2 and isinstance(args[0], int):
        return f"({args[0]}) {args[1]}"
    return f"{type(exc).__name__}: {exc}"


class MysqlBackend(Backend):
    def __init__(self, name: str, config: Mapping[str, Any]) -> None:
        super().__init__(name, config)
        self.settings = s = config_struct(MysqlConfig, config, name)
        if not s.user:
            raise ConfigurationError(f"backend {name!r}: config.user is required (the server's user name)")
        for key in ("database", "table", "jobs_table"):
            value = getattr(s, key)
            if (value is not None or key == "database") and not IDENTIFIER.match(value or ""):
                raise ConfigurationError(
                    f"backend {name!r}: config.{key} must be 1-64 letters, digits, _ or $, not starting"
                    f" with a digit (got {value!r})"
                )
        if s.jobs_table is not None and s.jobs_table == s.table:
            raise ConfigurationError(f"backend {name!r}: config.jobs_table must differ from config.table")
        if s.key_file and not s.cert_file:
            raise ConfigurationError(f"backend {name!r}: config.key_file needs config.cert_file")
        self.target = s.unix_socket or f"{s.host}:{s.port}"
        self.where = f"mysql {self.target}/{s.database}"
        self.conn: Any = None
        self.server_version: str | None = None
        self.statement_bytes = s.max_statement_bytes
        self.tables_ready = False

    async def initialize(self) -> None:
        """Nothing to open yet: the first batch connects (a server down at start-up is a lag, not an error)."""

    def _ssl_context(self) -> ssl.SSLContext | None:
        s = self.settings
        if not (s.tls or s.ca_file or s.cert_file):
            return None
        return tls.client_context(self.name, s.ca_file, s.cert_file, s.key_file, s.verify_ssl, "verify_ssl")

    async def _connect(self) -> Any:
        """The open connection, made (session set up, tables created) when there is none."""
        if self.conn is not None:
            return self.conn
        s = self.settings
        try:
            conn = await asyncmy.connect(
                host=s.host,
                port=s.port,
                unix_socket=s.unix_socket,
                user=s.user,
                password=s.password,
                database=s.database,
                charset="utf8mb4",
                autocommit=False,
                connect_timeout=s.connect_timeout,
                ssl=self._ssl_context(),
            )
        except TransientError:
            raise
        except (mysql_errors.MySQLError, OSError, TimeoutError) as exc:
            raise TransientError(f"{self.where}: cannot connect: {_describe(exc)}") from exc
        try:
            async with conn.cursor() as cur:
                await cur.execute(f"SET SESSION sql_mode = '{SESSION_SQL_MODE}', time_zone = '+00:00'")
                await cur.execute("SELECT VERSION(), @@max_allowed_packet")
                version, packet = await cur.fetchone()
                self.server_version = str(version)
                self.statement_bytes = min(s.max_statement_bytes, int(packet) - PACKET_MARGIN_BYTES)
                if s.create_tables and not self.tables_ready:
                    await cur.execute(events_ddl(s.table))
                    if s.jobs_table:
                        await cur.execute(jobs_ddl(s.jobs_table))
            await conn.commit()
            self.tables_ready = True
        except BaseException as exc:
            conn.close()
            if isinstance(exc, mysql_errors.MySQLError | OSError):
                raise TransientError(f"{self.where}: setting up the session: {_describe(exc)}") from exc
            raise
        self.conn = conn
        return conn

    def _drop_connection(self) -> None:
        if self.conn is not None:
            self.conn.close()  # mid-transaction or broken: the server rolls back what was not committed
            self.conn = None

    async def send_batch(self, batch: Batch) -> None:
        refused: dict[int, str] = {}
        rows: list[tuple[int, tuple[Any, ...], int]] = []  # (position, row, estimated bytes)
        events = batch.events()
        limit = self.statement_bytes - ROW_OVERHEAD_BYTES
        for position, (raw, event) in enumerate(zip(batch.raw, events, strict=True)):
            size = len(raw) + raw.count(b'"') + raw.count(b"\\")  # each quote and backslash is escaped
            if size > limit:
                refused[position] = (
                    f"the event needs a statement of about {size + ROW_OVERHEAD_BYTES} bytes, over the"
                    f" {self.statement_bytes} allowed (max_statement_bytes, the server's max_allowed_packet)"
                )
                continue
            try:
                rows.append((position, event_row(event, raw.decode("utf-8")), size + ROW_OVERHEAD_BYTES))
            except (ValueError, UnicodeDecodeError) as exc:
                refused[position] = f"no row for this event: {exc}"
        conn = await self._connect()
        try:
            async with asyncio.timeout(self.settings.timeout):
                async with conn.cursor() as cur:
                    taken = await self._write(cur, rows, refused)
                    if self.settings.jobs_table and taken:
                        await self._write_jobs(cur, events, taken, refused)
                await conn.commit()
        except TimeoutError as exc:
            self._drop_connection()
            raise TransientError(f"{self.where}: no answer within {self.settings.timeout}s (timeout)") from exc
        except (mysql_errors.MySQLError, OSError) as exc:
            self._drop_connection()
            if _error_code(exc) == NO_SUCH_TABLE:
                self.tables_ready = False  # dropped, or a new server: the next connection creates it again
            raise TransientError(f"{self.where}: {_describe(exc)}; the batch is rolled back") from exc
        except BaseException:
            self._drop_connection()  # cancelled (the worker's send timeout) or a fault: roll back
            raise
        if refused:
            first = refused[min(refused)]
            raise PermanentError(f"{len(refused)} of {len(batch)} event(s) refused; the first: {first}", refused)

    async def _write(
        self, cur: Any, rows: list[tuple[int, tuple[Any, ...], int]], refused: dict[int, str]
    ) -> list[int]:
        """Inserts rows (statements within statement_bytes, split on a row's data error) and returns the
        positions taken; a row refused alone goes into `refused`."""
        chunks: list[list[tuple[int, tuple[Any, ...], int]]] = []
        current: list[tuple[int, tuple[Any, ...], int]] = []
        size = 0
        for row in rows:
            if current and size + row[2] > self.statement_bytes:
                chunks.append(current)
                current, size = [], 0
            current.append(row)
            size += row[2]
        if current:
            chunks.append(current)
        table = self.settings.table
        refused_here = await self._insert_splitting(cur, chunks, lambda n: insert_events(table, n), refused)
        return [position for position, _, _ in rows if position not in refused_here]

    async def _write_jobs(
        self, cur: Any, events: list[dict[str, Any]], taken: list[int], refused: dict[int, str]
    ) -> None:
        """Upserts the jobs rows of the taken events. When the server refuses a job's row, that job's
        events of this batch are dead-lettered with the reason (their events rows are stored; a replay
        of the dead letters, once the table is fixed, writes the job's state and changes no event)."""
        assert self.settings.jobs_table is not None
        table = self.settings.jobs_table
        jobs = job_rows([events[p] for p in taken])
        per_row = max(1, self.statement_bytes // ROW_OVERHEAD_BYTES)
        chunks = [
            [(i, jobs[i], 0) for i in range(k, min(k + per_row, len(jobs)))] for k in range(0, len(jobs), per_row)
        ]
        problems: dict[int, str] = {}
        await self._insert_splitting(cur, chunks, lambda n: upsert_jobs(table, n), problems)
        for index, reason in problems.items():
            entity = jobs[index][0]
            for position in taken:
                if str(events[position].get("entity_id")) == entity:
                    refused[position] = f"the jobs table `{table}` refused this job's row ({reason})"

    async def _insert_splitting(
        self,
        cur: Any,
        chunks: list[list[tuple[int, tuple[Any, ...], int]]],
        statement: Any,
        refused: dict[int, str],
    ) -> set[int]:
        """Executes one statement per chunk; a chunk refused for a row's data is split in halves (the
        server rolled back that statement alone), a single refused row is recorded in `refused`.
        Returns the positions refused."""
        refused_here: set[int] = set()
        pending = list(chunks)
        while pending:
            chunk = pending.pop(0)
            args = [value for _, row, _ in chunk for value in row]
            try:
                await cur.execute(statement(len(chunk)), args)
            except UnicodeEncodeError as exc:
                reason = f"a string that is not valid UTF-8 (a lone surrogate): {exc.reason}"
                self._split_or_refuse(chunk, pending, refused, refused_here, reason)
            except mysql_errors.MySQLError as exc:
                code = _error_code(exc)
                if code not in DATA_ERRORS:
                    raise
                reason = f"the server refused the row: {DATA_ERRORS[code]}: {_describe(exc)}"
                self._split_or_refuse(chunk, pending, refused, refused_here, reason)
        return refused_here

    @staticmethod
    def _split_or_refuse(
        chunk: list[tuple[int, tuple[Any, ...], int]],
        pending: list[list[tuple[int, tuple[Any, ...], int]]],
        refused: dict[int, str],
        refused_here: set[int],
        reason: str,
    ) -> None:
        if len(chunk) == 1:
            refused[chunk[0][0]] = reason
            refused_here.add(chunk[0][0])
            return
        middle = len(chunk) // 2
        pending[:0] = [chunk[:middle], chunk[middle:]]

    async def health(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "database": self.settings.database,
            "table": self.settings.table,
            "jobs_table": self.settings.jobs_table,
            "server_version": self.server_version,
            "connected": self.conn is not None,
        }

    async def close(self) -> None:
        if self.conn is not None:
            await self.conn.ensure_closed()
            self.conn = None
