"""Shared by the gateway benchmarks: a throwaway PostgreSQL server and a gateway process (both the
test kit's, wafermon_testkit), and a fresh database.

Not part of the test suite; run the benchmarks by hand (see docs/gateway.md, "Benchmarks").
Set WAFERMON_BENCH_DATABASE_URL to use an existing server (databases are created in it) instead.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from wafermon_testkit import clean_env
from wafermon_testkit import gateway_process as testkit_gateway
from wafermon_testkit.postgres import postgres_server as testkit_postgres


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """A DSN to an admin database; a private server (default settings, fsync on) unless one is given."""
    given = os.environ.get("WAFERMON_BENCH_DATABASE_URL")
    if given:
        yield given
        return
    with testkit_postgres("-c shared_buffers=512MB -c max_wal_size=4GB") as dsn:
        yield dsn


async def create_database(admin_dsn: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    return admin_dsn.rsplit("/", 1)[0] + "/" + name


@contextlib.contextmanager
def gateway_process(dsn: str, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """The gateway on `dsn` (log level warning, its log in a temporary file); yields its base URL."""
    env = clean_env(WAFERMON_DATABASE_URL=dsn, WAFERMON_GATEWAY_LOG_LEVEL="warning") | (extra_env or {})
    with (
        tempfile.TemporaryDirectory(prefix="wafermon-bench-gw-") as tmp,
        testkit_gateway(Path(tmp) / "log", env) as url,
    ):
        yield url
