"""Versioned schema migrations for both stores, recorded in schema_migrations.

A migration is applied once, in its own transaction, in version order; a started gateway applies
whatever is pending. Never edit a released migration: add a new version.
On PostgreSQL the raw events table depends on the server: a TimescaleDB hypertable when the
extension is available, else a table range-partitioned by time (see partitions.py, timescale.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import hourly, timescale

# The same indexes on jobs and subjobs, on both backends.
_STATE_INDEXES = """
CREATE INDEX {table}_created ON {table} (created_at, entity_id);
CREATE INDEX {table}_updated ON {table} (updated_at, entity_id);
CREATE INDEX {table}_site ON {table} (site_id, created_at, entity_id);
CREATE INDEX {table}_status ON {table} (status, created_at, entity_id);
CREATE INDEX {table}_bkey ON {table} (business_key);
CREATE INDEX {table}_app ON {table} (app_name, created_at);
CREATE INDEX {table}_change ON {table} (change_id);
CREATE INDEX {table}_deadline ON {table} (deadline_at) WHERE status = 'running';
"""

_STATE_SQLITE = (
    """
CREATE TABLE {table} (
  entity_id TEXT PRIMARY KEY, parent_id TEXT, site_id TEXT NOT NULL, app_name TEXT NOT NULL,
  app_version TEXT NOT NULL, app_id TEXT, business_key TEXT, sub_key TEXT, host TEXT NOT NULL,
  pid INTEGER NOT NULL, metadata TEXT NOT NULL, heartbeat_s REAL, created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL, started_at TEXT, finished_at TEXT, last_seq INTEGER NOT NULL,
  base_status TEXT NOT NULL, status TEXT NOT NULL, error TEXT, metrics TEXT NOT NULL, duration_s REAL,
  progress REAL, deadline_at TEXT NOT NULL, keys TEXT NOT NULL, change_id INTEGER NOT NULL,
  received_at TEXT NOT NULL
);
"""
    + _STATE_INDEXES
)

# Alerting tables, identical on both backends: times are ISO-8601 text (sortable), bodies JSON text.
ALERTING_TABLES = (
    "CREATE TABLE alert_rules (name TEXT PRIMARY KEY, body TEXT NOT NULL, origin TEXT NOT NULL,"
    " updated_at TEXT NOT NULL)",
    "CREATE TABLE alert_notifiers (name TEXT PRIMARY KEY, body TEXT NOT NULL, origin TEXT NOT NULL,"
    " updated_at TEXT NOT NULL)",
    "CREATE TABLE alerts (alert_id TEXT PRIMARY KEY, alert_key TEXT NOT NULL, rule TEXT NOT NULL,"
    " scope TEXT NOT NULL, state TEXT NOT NULL, summary TEXT NOT NULL, items TEXT NOT NULL,"
    " item_count INTEGER NOT NULL, started_at TEXT NOT NULL, updated_at TEXT NOT NULL, resolved_at TEXT,"
    " notified_at TEXT, acked_by TEXT, acked_at TEXT, silenced_until TEXT)",
    "CREATE INDEX alerts_key_state ON alerts (alert_key, state)",
    "CREATE INDEX alerts_state_started ON alerts (state, started_at)",
    "CREATE TABLE alert_streaks (streak_key TEXT PRIMARY KEY, failures INTEGER NOT NULL,"
    " successes INTEGER NOT NULL, updated_at TEXT NOT NULL)",
    "CREATE TABLE alert_outbox (outbox_id TEXT PRIMARY KEY, alert_id TEXT NOT NULL, notifier TEXT NOT NULL,"
    " event TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL, created_at TEXT NOT NULL,"
    " next_attempt_at TEXT NOT NULL, sent_at TEXT, last_error TEXT)",
    "CREATE INDEX alert_outbox_due ON alert_outbox (state, next_attempt_at)",
)

MONITOR_TABLES = (
    "CREATE TABLE monitors (name TEXT PRIMARY KEY, body TEXT NOT NULL, origin TEXT NOT NULL,"
    " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, state TEXT NOT NULL, state_since TEXT NOT NULL,"
    " detail TEXT NOT NULL)",
)

# Sidecar heartbeats (alerting/sidecars.py). Versions: SQLite 6, PostgreSQL 7 (5 and 6 are the dashboard's).
SIDECAR_TABLES = (
    "CREATE TABLE sidecars (sidecar_id TEXT PRIMARY KEY, host TEXT NOT NULL, version TEXT NOT NULL,"
    " interval_s REAL NOT NULL, first_seen_at TEXT NOT NULL, last_seen_at TEXT NOT NULL, report TEXT NOT NULL)",
)

SQLITE: list[tuple[int, str, str]] = [
    (
        1,
        "apps, jobs, subjobs, events",
        """
CREATE TABLE apps (
  name TEXT NOT NULL, version TEXT NOT NULL, app_id TEXT, first_seen_at TEXT NOT NULL,
  last_seen_at TEXT NOT NULL, PRIMARY KEY (name, version)
);
"""
        + _STATE_SQLITE.format(table="jobs")
        + _STATE_SQLITE.format(table="subjobs")
        + """
CREATE INDEX subjobs_parent ON subjobs (parent_id);
CREATE TABLE events (
  event_id TEXT PRIMARY KEY, at TEXT NOT NULL, received_at TEXT NOT NULL, job_id TEXT NOT NULL,
  entity_type TEXT NOT NULL, entity_id TEXT NOT NULL, seq INTEGER NOT NULL, event_kind TEXT NOT NULL,
  status TEXT NOT NULL, site_id TEXT NOT NULL, body TEXT NOT NULL
);
CREATE INDEX events_job_at ON events (job_id, at);
CREATE INDEX events_at ON events (at);
CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT INTO counters VALUES ('change', 0);
""",
    ),
    (2, "alerting: rules, notifiers, alerts, streaks, outbox", "".join(s + ";\n" for s in ALERTING_TABLES)),
    (3, "schedule monitors", "".join(s + ";\n" for s in MONITOR_TABLES)),
    # The dashboard's overview groups a time range by site, app and status: a covering index.
    (
        4,
        "dashboard window index",
        "CREATE INDEX jobs_window ON jobs (created_at, site_id, app_name, status, duration_s);",
    ),
    # The hourly pre-aggregate (hourly.py), back-filled from the jobs already stored.
    (5, "hourly job pre-aggregate", "".join(s + ";\n" for s in [*hourly.ddl(False), *hourly.backfill(False)])),
    (6, "sidecar heartbeats", "".join(s + ";\n" for s in SIDECAR_TABLES)),
]

_STATE_PG = (
    """
CREATE TABLE {table} (
  entity_id uuid PRIMARY KEY, parent_id uuid, site_id text NOT NULL, app_name text NOT NULL,
  app_version text NOT NULL, app_id text, business_key text, sub_key text, host text NOT NULL,
  pid bigint NOT NULL, metadata jsonb NOT NULL, heartbeat_s double precision,
  created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, started_at timestamptz,
  finished_at timestamptz, last_seq bigint NOT NULL, base_status text NOT NULL, status text NOT NULL,
  error jsonb, metrics jsonb NOT NULL, duration_s double precision, progress double precision,
  deadline_at timestamptz NOT NULL, keys jsonb NOT NULL, change_id bigint NOT NULL,
  received_at timestamptz NOT NULL
);
"""
    + _STATE_INDEXES
)

EVENT_COLUMNS_PG = """
  event_id uuid NOT NULL, at timestamptz NOT NULL, received_at timestamptz NOT NULL, job_id uuid NOT NULL,
  entity_type text NOT NULL, entity_id uuid NOT NULL, seq bigint NOT NULL, event_kind text NOT NULL,
  status text NOT NULL, site_id text NOT NULL, body jsonb NOT NULL"""


@dataclass(frozen=True, slots=True)
class PgMigration:
    version: int
    name: str
    # mode is "timescaledb" or "partitioned"; returns the statements to run in order.
    statements: tuple[str, ...] | None = None
    events_storage: bool = False

    def sql(self, mode: str, partition_hours: int, retention_hours: float, compress_after_hours: float) -> list[str]:
        if not self.events_storage:
            return list(self.statements or ())
        # A unique key on a partitioned table or hypertable must contain the time column, so
        # de-duplication is on (event_id, at): a replayed event carries the same at.
        create = f"CREATE TABLE events ({EVENT_COLUMNS_PG},\n  PRIMARY KEY (event_id, at))"
        index = "CREATE INDEX events_job_at ON events (job_id, at)"
        if mode == "timescaledb":
            return [
                "CREATE EXTENSION IF NOT EXISTS timescaledb",
                create,
                index,
                *timescale.setup_sql(partition_hours, retention_hours, compress_after_hours),
            ]
        return [create + " PARTITION BY RANGE (at)", index]


# business_key_contains is an ILIKE '%...%': a trigram index (pg_trgm, in PostgreSQL's contrib) serves
# it. Where the extension cannot be had (no contrib, no privilege) the search scans jobs instead.
_BKEY_SEARCH_INDEX = """
DO $$
BEGIN
  BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
  EXCEPTION WHEN OTHERS THEN
    RAISE WARNING 'pg_trgm unavailable (%): business key search scans jobs', SQLERRM;
  END;
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
    EXECUTE 'CREATE INDEX jobs_bkey_trgm ON jobs USING gin (business_key gin_trgm_ops)';
  END IF;
END $$"""

POSTGRES: list[PgMigration] = [
    PgMigration(
        1,
        "apps, jobs, subjobs, change sequence",
        (
            "CREATE SEQUENCE change_seq",
            "CREATE TABLE gateway_meta (key text PRIMARY KEY, value text NOT NULL)",
            "CREATE TABLE apps (name text NOT NULL, version text NOT NULL, app_id text,"
            " first_seen_at timestamptz NOT NULL, last_seen_at timestamptz NOT NULL, PRIMARY KEY (name, version))",
            *[s for s in _STATE_PG.format(table="jobs").split(";") if s.strip()],
            *[s for s in _STATE_PG.format(table="subjobs").split(";") if s.strip()],
            "CREATE INDEX subjobs_parent ON subjobs (parent_id)",
        ),
    ),
    PgMigration(2, "raw events (hypertable or range partitions)", events_storage=True),
    PgMigration(3, "alerting: rules, notifiers, alerts, streaks, outbox", ALERTING_TABLES),
    PgMigration(4, "schedule monitors", MONITOR_TABLES),
    # The dashboard's overview groups a time range by site, app and status: an index-only scan.
    PgMigration(
        5,
        "dashboard window index",
        ("CREATE INDEX jobs_window ON jobs (created_at) INCLUDE (site_id, app_name, status, duration_s)",),
    ),
    PgMigration(
        6,
        "hourly job pre-aggregate; business key search index",
        (*hourly.ddl(True), *hourly.backfill(True), _BKEY_SEARCH_INDEX),
    ),
    PgMigration(7, "sidecar heartbeats", SIDECAR_TABLES),
]

SCHEMA_MIGRATIONS_SQL = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
    " applied_at text NOT NULL)"
)
