"""The store interface both backends implement, and the backend-neutral parts of ingest.

Both stores keep the same tables (apps, jobs, subjobs, events, plus schema_migrations) with the
same columns, so the API layer never knows which one it talks to and the tests run the same cases
against both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec

from ..batch import Prepared
from ..bus import ChangeBus
from ..liveness import deadline, effective_status, iso
from ..query import Filters, ListQuery
from ..reducer import EntityState, Facts, fold
from ..settings import Settings

KINDS = {"job": "jobs", "subjob": "subjobs"}
# Column order of the jobs and subjobs tables (identical on purpose: one row codec for both).
STATE_COLUMNS = (
    "entity_id", "parent_id", "site_id", "app_name", "app_version", "app_id", "business_key", "sub_key",
    "host", "pid", "metadata", "heartbeat_s", "created_at", "updated_at", "started_at", "finished_at",
    "last_seq", "base_status", "status", "error", "metrics", "duration_s", "progress", "deadline_at",
    "keys", "change_id", "received_at",
)  # fmt: skip
TIME_COLUMNS = ("created_at", "updated_at", "started_at", "finished_at", "deadline_at", "received_at")
EVENT_COLUMNS = (
    "event_id", "at", "received_at", "job_id", "entity_type", "entity_id", "seq", "event_kind", "status",
    "site_id", "body",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    duplicates: int
    last_change: int


class Store(ABC):
    name: str

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.bus = ChangeBus()
        # Newest ingest, for /v1/healthz lag and metrics.
        self.last_ingest_at: datetime | None = None
        self.last_ingest_lag_s: float | None = None

    @abstractmethod
    async def open(self) -> None:
        """Connect and apply pending migrations."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> None:
        """Raise if the store cannot answer a trivial query."""

    @abstractmethod
    async def ingest(self, events: list[Prepared], now: datetime) -> IngestResult:
        """Store new events, skip known ones, fold the new ones into job/sub-job state, atomically."""

    @abstractmethod
    async def list_entities(self, q: ListQuery) -> list[dict[str, Any]]: ...

    @abstractmethod
    async def get_entity(self, kind: str, entity_id: str) -> dict[str, Any] | None: ...

    @abstractmethod
    async def timeline(self, job_id: str, limit: int) -> list[dict[str, Any]]:
        """Raw events of a job and its sub-jobs, oldest first."""

    @abstractmethod
    async def changes(self, f: Filters, after: int, limit: int) -> list[dict[str, Any]]:
        """Rows of f.kind whose change id is above `after`, in change order."""

    @abstractmethod
    async def sweep(self, now: datetime) -> int:
        """Apply time-driven liveness (lost, orphaned); returns how many rows changed."""

    @abstractmethod
    async def maintain(self, now: datetime) -> dict[str, Any]:
        """Retention and (PostgreSQL) partition upkeep; returns what was done."""

    @abstractmethod
    async def latest_change(self) -> int: ...

    @abstractmethod
    async def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, sorted, for tests that prove a replay changed nothing."""

    def note_ingest(self, events: list[Prepared], now: datetime) -> None:
        if events:
            newest = max(p.at for p in events)
            self.last_ingest_at = now
            self.last_ingest_lag_s = max(0.0, (now - newest).total_seconds())


def dedupe(events: list[Prepared]) -> tuple[list[Prepared], int]:
    """Drop repeats of an event_id inside one batch (first one kept)."""
    seen: set[str] = set()
    unique: list[Prepared] = []
    for p in events:
        if p.facts.event_id not in seen:
            seen.add(p.facts.event_id)
            unique.append(p)
    return unique, len(events) - len(unique)


def event_record(p: Prepared, received: Any) -> tuple[Any, ...]:
    """A row of the events table, in EVENT_COLUMNS order; times are the store's own type."""
    f = p.facts
    at = p.at if isinstance(received, datetime) else f.at
    job_id = f.parent_id or f.entity_id
    return (f.event_id, at, received, job_id, f.entity_type, f.entity_id, f.seq, f.event_kind, f.status, f.site_id,
            p.raw.decode())  # fmt: skip


def raw_horizon(settings: Settings, now: datetime) -> datetime:
    """Events older than this are not kept as raw rows (retention would drop them at once)."""
    return now - timedelta(hours=settings.retention_hours)


def app_rows(events: Iterable[Prepared], at: Callable[[Prepared], Any]) -> list[tuple[Any, ...]]:
    """Rows of the apps table for a batch, one per (name, version), sorted: (name, version, app_id,
    first_seen_at, last_seen_at); `at` gives an event's time in the store's own type."""
    apps: dict[tuple[str, str], tuple[str | None, Any, Any]] = {}
    for p in events:
        f = p.facts
        key = (f.app_name, f.app_version)
        app_id, lo, hi = apps.get(key, (f.app_id, at(p), at(p)))
        apps[key] = (app_id or f.app_id, min(lo, at(p)), max(hi, at(p)))
    return [(*key, *span) for key, span in sorted(apps.items())]


def fold_new(existing: dict[str, EntityState], events: Iterable[Prepared]) -> dict[str, EntityState]:
    """Fold new events into their entities' states; returns only the entities that changed."""
    grouped: dict[str, list[Facts]] = {}
    for p in events:
        grouped.setdefault(p.facts.entity_id, []).append(p.facts)
    out: dict[str, EntityState] = {}
    for eid, facts in grouped.items():
        state = fold(existing.get(eid), facts)
        if state is not None:
            out[eid] = state
    return out


def state_record(state: EntityState, previous_status: str | None, settings: Settings, now_iso: str) -> dict[str, Any]:
    """A state as a row of the jobs/subjobs table (times as ISO strings, JSON as text)."""
    deadline_at = deadline(state, settings.heartbeat_s, settings.lost_after_missed)
    return {
        "entity_id": state.entity_id,
        "parent_id": state.parent_id,
        "site_id": state.site_id,
        "app_name": state.app_name,
        "app_version": state.app_version,
        "app_id": state.app_id,
        "business_key": state.business_key,
        "sub_key": state.sub_key,
        "host": state.host,
        "pid": state.pid,
        "metadata": _dumps(state.metadata),
        "heartbeat_s": state.heartbeat_s,
        "created_at": state.created_at,
        "updated_at": state.updated_at,
        "started_at": state.started_at,
        "finished_at": state.finished_at,
        "last_seq": state.last_seq,
        "base_status": state.base_status,
        "status": effective_status(state.base_status, previous_status, deadline_at, now_iso),
        "error": None if state.error is None else _dumps(state.error),
        "metrics": _dumps(state.metrics),
        "duration_s": state.duration_s,
        "progress": state.progress,
        "deadline_at": deadline_at,
        "keys": _dumps(state.keys_dict()),
        "change_id": 0,
        "received_at": now_iso,
    }


def _dumps(value: Any) -> str:
    # msgspec, not orjson: user metadata may hold integers beyond 64 bits, which JSON allows.
    return msgspec.json.encode(value).decode()


def loads(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def state_from_row(row: dict[str, Any], kind: str) -> EntityState:
    """Rebuild a reducer state from a stored row (normalised: ISO times, JSON text or objects)."""
    s = EntityState(entity_id=row["entity_id"], entity_type=kind)
    for name in ("parent_id", "site_id", "app_name", "app_version", "app_id", "business_key", "sub_key", "host",
                 "pid", "heartbeat_s", "created_at", "updated_at", "started_at", "finished_at", "last_seq",
                 "base_status", "progress"):  # fmt: skip
        setattr(s, name, row[name])
    s.metadata = loads(row["metadata"])
    s.error = loads(row["error"]) if row["error"] is not None else None
    s.metrics = loads(row["metrics"])
    s.load_keys(loads(row["keys"]))
    return s


def entity_view(row: dict[str, Any], kind: str) -> dict[str, Any]:
    """The public JSON shape of a job or sub-job row."""
    view: dict[str, Any] = {
        "id": row["entity_id"],
        "type": kind,
        "site_id": row["site_id"],
        "app": {"name": row["app_name"], "version": row["app_version"], "id": row["app_id"]},
        "business_key": row["business_key"],
        "status": row["status"],
        "reported_status": row["base_status"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "started_at": row["started_at"],
        "finished_at": row["finished_at"],
        "duration_s": row["duration_s"],
        "progress": row["progress"],
        "metrics": loads(row["metrics"]),
        "error": loads(row["error"]) if row["error"] is not None else None,
        "host": row["host"],
        "pid": row["pid"],
        "metadata": loads(row["metadata"]),
        "last_seq": row["last_seq"],
        "lost_after": row["deadline_at"] if row["base_status"] == "running" else None,
        "change_id": row["change_id"],
    }
    if kind == "subjob":
        view["parent_id"] = row["parent_id"]
        view["sub_key"] = row["sub_key"]
    return view


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the stores' query SQL: the bound-parameter marker for the n-th value
    (1-based: "$1" or "?") and the value bound for a time column given its ISO text."""

    marker: Callable[[int], str]
    time: Callable[[str], Any]
    like: str = "LIKE"  # case-insensitive LIKE: ILIKE on PostgreSQL; SQLite's LIKE already is one


def _binder(dialect: Dialect) -> tuple[list[Any], Callable[[Any], str]]:
    """The values of one statement, in order, and the function that adds one and returns its marker."""
    values: list[Any] = []

    def bind(value: Any) -> str:
        values.append(value)
        return dialect.marker(len(values))

    return values, bind


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its own %, _ and backslash taken literally (ESCAPE '\\')."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _where(f: Filters, bind: Callable[[Any], str], time: Callable[[str], Any], like: str = "LIKE") -> list[str]:
    """SQL conditions for the filters; every value is bound, never written into the SQL."""
    out: list[str] = []
    for column, value in (
        ("site_id", f.site_id),
        ("app_name", f.app),
        ("business_key", f.business_key),
        ("sub_key", f.sub_key),
        ("host", f.host),
        ("parent_id", f.parent_id),
    ):
        if value is not None:
            out.append(f"{column} = {bind(value)}")
    if f.business_key_contains is not None:
        out.append(f"business_key {like} {bind(like_pattern(f.business_key_contains))} ESCAPE '\\'")
    if f.statuses:
        out.append(f"status IN ({', '.join(bind(s) for s in f.statuses)})")
    if f.since is not None:
        out.append(f"updated_at >= {bind(time(f.since))}")
    if f.until is not None:
        out.append(f"created_at < {bind(time(f.until))}")
    return out


def select_page(q: ListQuery, dialect: Dialect) -> tuple[str, list[Any]]:
    """SQL and bound values for one list page: limit + 1 rows, so the caller sees whether more follow."""
    values, bind = _binder(dialect)
    clauses = _where(q.filters, bind, dialect.time, dialect.like)
    if q.after_value is not None and q.after_id is not None:
        op = "<" if q.descending else ">"
        clauses.append(f"({q.sort}, entity_id) {op} ({bind(dialect.time(q.after_value))}, {bind(q.after_id)})")
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    direction = "DESC" if q.descending else "ASC"
    order = f"ORDER BY {q.sort} {direction}, entity_id {direction}"
    return f"SELECT * FROM {KINDS[q.filters.kind]} {where} {order} LIMIT {int(q.limit) + 1}", values


def select_changes(f: Filters, after: int, limit: int, dialect: Dialect) -> tuple[str, list[Any]]:
    """SQL and bound values for the rows of f.kind whose change id is above `after`, in change order."""
    values, bind = _binder(dialect)
    clauses = [f"change_id > {bind(after)}", *_where(f, bind, dialect.time, dialect.like)]
    sql = f"SELECT * FROM {KINDS[f.kind]} WHERE {' AND '.join(clauses)} ORDER BY change_id LIMIT {int(limit)}"
    return sql, values


def now_iso(now: datetime) -> str:
    return iso(now)
