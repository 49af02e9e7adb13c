"""Pure helpers: liveness rules, partition arithmetic, TimescaleDB statements, cursors, settings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from starlette.datastructures import QueryParams

from wafermon_gateway.liveness import effective_status
from wafermon_gateway.query import QueryError, next_cursor, parse_list
from wafermon_gateway.settings import Settings, SettingsError, check_bind_policy, load_settings
from wafermon_gateway.store import partitions, timescale
from wafermon_gateway.store.postgres import apply_migrations

NOW = "2026-11-23T12:00:00.000000Z"


@pytest.mark.parametrize(
    ("base", "previous", "deadline", "expected"),
    [
        ("running", None, "2026-11-23T12:01:00.000000Z", "running"),
        ("running", None, "2026-11-23T11:59:00.000000Z", "lost"),
        ("running", "lost", "2026-11-23T12:01:00.000000Z", "running"),  # a fresh event revives a lost job
        ("running", "orphaned", "2026-11-23T12:01:00.000000Z", "orphaned"),
        ("succeeded", "lost", "2026-11-23T11:00:00.000000Z", "succeeded"),  # late finished wins
        ("failed", "orphaned", "2026-11-23T11:00:00.000000Z", "failed"),
    ],
)
def test_effective_status(base: str, previous: str | None, deadline: str, expected: str) -> None:
    assert effective_status(base, previous, deadline, NOW) == expected


def test_partition_arithmetic() -> None:
    moment = datetime(2026, 11, 23, 17, 5, tzinfo=UTC)
    start = partitions.partition_start(moment, 24)
    assert start == datetime(2026, 11, 23, tzinfo=UTC)
    assert partitions.partition_name(start) == "events_p2026112300"
    assert partitions.create_sql(start, 24) == (
        "CREATE TABLE IF NOT EXISTS events_p2026112300 PARTITION OF events "
        "FOR VALUES FROM ('2026-11-23T00:00:00+00:00') TO ('2026-11-24T00:00:00+00:00')"
    )
    assert partitions.partition_start(moment, 6) == datetime(2026, 11, 23, 12, tzinfo=UTC)
    starts = partitions.starts_between(datetime(2026, 11, 20, 5, tzinfo=UTC), moment, 24)
    assert [s.day for s in starts] == [20, 21, 22, 23]
    existing = [
        ("events_p2026112000", "FOR VALUES FROM ('2026-11-20 00:00:00+00') TO ('2026-11-21 00:00:00+00')"),
        ("events_p2026112100", "FOR VALUES FROM ('2026-11-21 00:00:00+00') TO ('2026-11-22 00:00:00+00')"),
        ("events_default", "DEFAULT"),
    ]
    assert partitions.to_drop(existing, datetime(2026, 11, 21, 12, tzinfo=UTC)) == ["events_p2026112000"]


class FakeConnection:
    """Records what apply_migrations would send to a server that has TimescaleDB available."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def transaction(self) -> FakeConnection:
        return self

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def execute(self, sql: str, *args: Any) -> str:
        self.statements.append(sql)
        return "OK"

    async def fetch(self, sql: str, *args: Any) -> list[Any]:
        self.statements.append(sql)
        return []

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self.statements.append(sql)
        return sql == timescale.DETECT_SQL


async def test_timescaledb_path_issues_hypertable_compression_and_retention() -> None:
    conn = FakeConnection()
    mode = await apply_migrations(conn, partition_hours=24, retention_hours=72, compress_after=24)
    assert mode == "timescaledb"
    sql = conn.statements
    assert "CREATE EXTENSION IF NOT EXISTS timescaledb" in sql
    create = next(s for s in sql if s.startswith("CREATE TABLE events"))
    assert "PARTITION BY" not in create and "PRIMARY KEY (event_id, at)" in create
    assert "SELECT create_hypertable('events', 'at', chunk_time_interval => INTERVAL '24 hours')" in sql
    assert any("timescaledb.compress_segmentby = 'job_id'" in s for s in sql)
    assert "SELECT add_compression_policy('events', INTERVAL '24 hours')" in sql
    assert "SELECT add_retention_policy('events', INTERVAL '72 hours')" in sql
    # order matters: the table exists before it becomes a hypertable, retention is (re)applied last
    assert sql.index(create) < sql.index(
        "SELECT create_hypertable('events', 'at', chunk_time_interval => INTERVAL '24 hours')"
    )
    assert sql[-1] == "SELECT add_retention_policy('events', INTERVAL '72 hours')"
    assert "INSERT INTO gateway_meta VALUES ('events_mode', $1)" in sql


class NoPreloadConnection(FakeConnection):
    """TimescaleDB is installed on the server but cannot be enabled (not preloaded, no privilege)."""

    async def execute(self, sql: str, *args: Any) -> str:
        if sql.startswith("CREATE EXTENSION"):
            raise asyncpg.exceptions.FeatureNotSupportedError("timescaledb must be loaded via shared_preload_libraries")
        return await super().execute(sql, *args)


async def test_timescaledb_unusable_falls_back_to_native_partitions() -> None:
    conn = NoPreloadConnection()
    assert await apply_migrations(conn, partition_hours=24, retention_hours=72, compress_after=24) == "partitioned"
    create = next(s for s in conn.statements if s.startswith("CREATE TABLE events"))
    assert create.endswith("PARTITION BY RANGE (at)")
    assert not any("create_hypertable" in s or "add_retention_policy" in s for s in conn.statements)


def test_timescale_retention_configurable() -> None:
    assert timescale.retention_sql(12.5)[-1] == "SELECT add_retention_policy('events', INTERVAL '12.5 hours')"


def _q(query: str, kind: str = "job") -> Any:
    return parse_list(QueryParams(query), kind, Settings())


def test_parse_list_and_cursor_roundtrip() -> None:
    q = _q("site_id=fab1&status=running,failed&sort=-updated_at&limit=10")
    assert q.filters.statuses == ("running", "failed") and q.sort == "updated_at" and q.descending
    row = {"updated_at": "2026-11-23T12:00:00.000000Z", "id": "01936f0e-8a6b-7000-8000-000000000001"}
    cursor = next_cursor(q, row)
    again = _q(f"site_id=fab1&status=running,failed&sort=-updated_at&limit=10&cursor={cursor}")
    assert (again.after_value, again.after_id) == (row["updated_at"], row["id"])
    with pytest.raises(QueryError, match="different query"):
        _q(f"site_id=fab2&status=running,failed&sort=-updated_at&cursor={cursor}")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=abc", "limit"),
        ("sort=status", "sort"),
        ("status=done", "status"),
        ("since=yesterday", "since"),
        ("parent_id=x", "parent_id"),
        ("bogus=1", "bogus"),
        ("cursor=!!!", "cursor"),
        ("site_id=a&site_id=b", "site_id"),
        ("site_id=" + "x" * 200, "site_id"),
        ("site_id=a%00b", "site_id"),
    ],
)
def test_parse_list_rejects(query: str, field: str) -> None:
    with pytest.raises(QueryError) as info:
        _q(query)
    assert info.value.field == field


def test_settings_file_env_and_secrets(tmp_path: Path) -> None:
    path = tmp_path / "gateway.toml"
    path.write_text(
        '[gateway]\nport = 18123\nretention_hours = 24\n'
        '[[gateway.api_keys]]\nname = "sidecar"\nkey = "${TEST_KEY}"\nscopes = ["ingest"]\n'
    )  # fmt: skip
    env = {"TEST_KEY": "k" * 32, "WAFERMON_GATEWAY_HEARTBEAT_S": "7", "WAFERMON_DATABASE_URL": "postgresql://x/y"}
    s = load_settings(path, {"host": "0.0.0.0"}, environ=env)
    assert (s.port, s.retention_hours, s.heartbeat_s, s.host) == (18123, 24, 7, "0.0.0.0")
    assert s.api_keys[0].key == "k" * 32 and s.uses_postgres
    check_bind_policy(s)  # keys configured: any address is fine
    json_path = tmp_path / "gateway.json"
    json_path.write_text(json.dumps({"port": 1}))
    assert load_settings(json_path, environ={}).port == 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WAFERMON_GATEWAY_PORT": "http"}, "port"),
        ({"WAFERMON_GATEWAY_NOPE": "1"}, None),  # unknown variables are simply not settings
        ({"WAFERMON_DATABASE_URL": "mysql://x"}, "database_url"),
        ({"WAFERMON_GATEWAY_API_KEYS": "not json"}, "API_KEYS"),
        ({"WAFERMON_GATEWAY_API_KEYS": '[{"name": "a", "key": "short", "scopes": ["read"]}]'}, "api_keys"),
    ],
)
def test_settings_errors_name_the_setting(env: dict[str, str], message: str | None) -> None:
    if message is None:
        load_settings(environ=env)
        return
    with pytest.raises(SettingsError, match=message):
        load_settings(environ=env)


def test_missing_secret_and_unknown_file_key(tmp_path: Path) -> None:
    path = tmp_path / "g.toml"
    path.write_text('database_url = "${NOT_SET_ANYWHERE}"\n')
    with pytest.raises(SettingsError, match="NOT_SET_ANYWHERE"):
        load_settings(path, environ={})
    path.write_text("prot = 1\n")
    with pytest.raises(SettingsError, match="prot"):
        load_settings(path, environ={})


def test_non_loopback_without_keys_refused() -> None:
    check_bind_policy(Settings(host="127.0.0.1"))
    check_bind_policy(Settings(host="::1"))
    with pytest.raises(SettingsError, match=r"refusing to listen on 0\.0\.0\.0"):
        check_bind_policy(Settings(host="0.0.0.0"))
