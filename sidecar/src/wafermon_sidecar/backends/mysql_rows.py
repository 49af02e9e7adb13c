"""The rows the mysql backend writes (conformance/backends/mysql.md is the normative shape): the
tables' DDL, one events row per event, one jobs row per job or sub-job (its latest state), and the
statements that write them. Pure functions; the backend (mysql.py) sends them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

#: Identifiers (table names) the backend accepts: plain names, quoted with backticks anyway.
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,63}$")
METRIC_COLUMNS = ("duration_s", "cpu_user_s", "cpu_sys_s", "mem_max_mb")

EVENT_COLUMNS = (
    "event_id",
    "at",
    "site_id",
    "app_name",
    "app_version",
    "entity_type",
    "entity_id",
    "parent_id",
    "event_kind",
    "status",
    "seq",
    "business_key",
    "sub_key",
    "host",
    "progress",
    *METRIC_COLUMNS,
    "error_type",
    "event",
)

# The jobs table: `seq` and `at` come last, because the upsert's assignments are evaluated left to
# right and every other column's condition must still see the stored (at, seq).
JOB_COLUMNS = (
    "entity_id",
    "entity_type",
    "parent_id",
    "site_id",
    "app_name",
    "business_key",
    "sub_key",
    "event_kind",
    "status",
    "progress",
    "duration_s",
    "cpu_user_s",
    "mem_max_mb",
    "error_type",
    "last_event_id",
    "started_at",
    "seq",
    "at",
)

_TABLE_OPTIONS = "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"


def events_ddl(table: str) -> str:
    """CREATE TABLE IF NOT EXISTS for the events table (widths are the event schema's maxima)."""
    return f"""CREATE TABLE IF NOT EXISTS `{table}` (
  `event_id` CHAR(36) CHARACTER SET ascii NOT NULL,
  `at` DATETIME(6) NOT NULL,
  `site_id` VARCHAR(128) NOT NULL,
  `app_name` VARCHAR(128) NOT NULL,
  `app_version` VARCHAR(128) NULL,
  `entity_type` VARCHAR(16) NOT NULL,
  `entity_id` CHAR(36) CHARACTER SET ascii NOT NULL,
  `parent_id` CHAR(36) CHARACTER SET ascii NULL,
  `event_kind` VARCHAR(16) NOT NULL,
  `status` VARCHAR(16) NOT NULL,
  `seq` BIGINT UNSIGNED NOT NULL,
  `business_key` VARCHAR(256) NULL,
  `sub_key` VARCHAR(256) NULL,
  `host` VARCHAR(255) NOT NULL,
  `progress` DOUBLE NULL,
  `duration_s` DOUBLE NULL,
  `cpu_user_s` DOUBLE NULL,
  `cpu_sys_s` DOUBLE NULL,
  `mem_max_mb` DOUBLE NULL,
  `error_type` VARCHAR(256) NULL,
  `event` JSON NOT NULL,
  PRIMARY KEY (`event_id`),
  KEY `{table}_site_at` (`site_id`, `at`),
  KEY `{table}_entity_seq` (`entity_id`, `seq`)
) {_TABLE_OPTIONS}"""


def jobs_ddl(table: str) -> str:
    """CREATE TABLE IF NOT EXISTS for the jobs table: one row per job or sub-job, its latest state."""
    return f"""CREATE TABLE IF NOT EXISTS `{table}` (
  `entity_id` CHAR(36) CHARACTER SET ascii NOT NULL,
  `entity_type` VARCHAR(16) NOT NULL,
  `parent_id` CHAR(36) CHARACTER SET ascii NULL,
  `site_id` VARCHAR(128) NOT NULL,
  `app_name` VARCHAR(128) NOT NULL,
  `business_key` VARCHAR(256) NULL,
  `sub_key` VARCHAR(256) NULL,
  `event_kind` VARCHAR(16) NOT NULL,
  `status` VARCHAR(16) NOT NULL,
  `progress` DOUBLE NULL,
  `duration_s` DOUBLE NULL,
  `cpu_user_s` DOUBLE NULL,
  `mem_max_mb` DOUBLE NULL,
  `error_type` VARCHAR(256) NULL,
  `last_event_id` CHAR(36) CHARACTER SET ascii NOT NULL,
  `started_at` DATETIME(6) NULL,
  `seq` BIGINT UNSIGNED NOT NULL,
  `at` DATETIME(6) NOT NULL,
  PRIMARY KEY (`entity_id`),
  KEY `{table}_site_status` (`site_id`, `status`, `at`)
) {_TABLE_OPTIONS}"""


def sql_datetime(at: str) -> str:
    """The RFC 3339 time `at` as a DATETIME(6) literal in UTC ('YYYY-MM-DD HH:MM:SS.ffffff').
    ValueError when `at` is no time or has no offset."""
    moment = datetime.fromisoformat(at)
    if moment.tzinfo is None:
        raise ValueError(f"event time {at!r} has no UTC offset")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def event_row(event: Mapping[str, Any], text: str) -> tuple[Any, ...]:
    """The events row for `event`, whose JSON text as received is `text` (stored as is), in
    EVENT_COLUMNS order. A field the event lacks is NULL. ValueError for an unusable `at`."""
    app = _mapping(event.get("app"))
    metrics = _mapping(event.get("metrics"))
    error = _mapping(event.get("error"))
    return (
        event.get("event_id"),
        sql_datetime(str(event.get("at"))),
        event.get("site_id"),
        app.get("name"),
        app.get("version"),
        event.get("entity_type"),
        event.get("entity_id"),
        event.get("parent_id"),
        event.get("event_kind"),
        event.get("status"),
        event.get("seq"),
        event.get("business_key"),
        event.get("sub_key"),
        event.get("host"),
        event.get("progress"),
        *(metrics.get(name) for name in METRIC_COLUMNS),
        error.get("type"),
        text,
    )


def _order(event: Mapping[str, Any]) -> tuple[str, int]:
    return sql_datetime(str(event.get("at"))), int(event.get("seq") or 0)


def job_rows(events: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """The jobs rows for `events` (JOB_COLUMNS order): per entity_id the latest event by (at, seq),
    with started_at the earliest `started` event's time among them (NULL without one); in the order
    each entity first appears."""
    latest: dict[str, Mapping[str, Any]] = {}
    started: dict[str, str] = {}
    for event in events:
        entity = str(event.get("entity_id"))
        held = latest.get(entity)
        if held is None or _order(event) > _order(held):
            latest[entity] = event
        if event.get("event_kind") == "started":
            when = sql_datetime(str(event.get("at")))
            started[entity] = min(started.get(entity, when), when)
    rows = []
    for entity, event in latest.items():
        app = _mapping(event.get("app"))
        metrics = _mapping(event.get("metrics"))
        error = _mapping(event.get("error"))
        at, seq = _order(event)
        rows.append(
            (
                entity,
                event.get("entity_type"),
                event.get("parent_id"),
                event.get("site_id"),
                app.get("name"),
                event.get("business_key"),
                event.get("sub_key"),
                event.get("event_kind"),
                event.get("status"),
                event.get("progress"),
                metrics.get("duration_s"),
                metrics.get("cpu_user_s"),
                metrics.get("mem_max_mb"),
                error.get("type"),
                event.get("event_id"),
                started.get(entity),
                seq,
                at,
            )
        )
    return rows


def _values(columns: Sequence[str], rows: int) -> str:
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    return ", ".join([one] * rows)


def _names(columns: Sequence[str]) -> str:
    return ", ".join(f"`{c}`" for c in columns)


def insert_events(table: str, rows: int) -> str:
    """A multi-row INSERT of `rows` events rows; a row whose event_id is there already changes nothing.
    (Not INSERT IGNORE: that would also turn a refused value into a warning and store it truncated.)"""
    return (
        f"INSERT INTO `{table}` ({_names(EVENT_COLUMNS)}) VALUES {_values(EVENT_COLUMNS, rows)}"
        " ON DUPLICATE KEY UPDATE `event_id` = `event_id`"
    )


def upsert_jobs(table: str, rows: int) -> str:
    """A multi-row upsert of `rows` jobs rows that only moves a job forward: a row replaces the stored
    state only when its (at, seq) is greater; started_at keeps the earliest known."""
    forward = "(VALUES(`at`), VALUES(`seq`)) > (`at`, `seq`)"
    updates = [
        f"`{c}` = IF({forward}, VALUES(`{c}`), `{c}`)" for c in JOB_COLUMNS if c not in ("entity_id", "started_at")
    ]
    updates.insert(
        len(updates) - 2,
        "`started_at` = COALESCE(LEAST(`started_at`, VALUES(`started_at`)), `started_at`, VALUES(`started_at`))",
    )
    return (
        f"INSERT INTO `{table}` ({_names(JOB_COLUMNS)}) VALUES {_values(JOB_COLUMNS, rows)}"
        f" ON DUPLICATE KEY UPDATE {', '.join(updates)}"
    )
