"""Fixtures: a real PostgreSQL server started for the session, and stores/apps over both backends."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from wafermon_gateway.app import create_app
from wafermon_gateway.settings import Settings, load_settings
from wafermon_gateway.store import Store, make_store

PG_BINDIR = Path(os.environ.get("WAFERMON_PG_BINDIR", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """initdb into a temp dir and start postgres on a free port; always stopped at the end.

    initdb refuses to run as root, so as root the server runs as the `postgres` user.
    """
    if not (PG_BINDIR / "initdb").exists():
        pytest.fail(f"PostgreSQL server binaries not found in {PG_BINDIR} (apt-get install postgresql)")
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="wafermon-pg-"))
    base.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    data, log = base / "data", base / "server.log"
    port = free_port()
    subprocess.run(
        [*as_pg, str(PG_BINDIR / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
         "--locale=C", "--no-sync"],
        check=True, capture_output=True,
    )  # fmt: skip
    options = (
        f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
        "-c full_page_writes=off -c max_connections=300"
    )
    started = subprocess.run(
        [*as_pg, str(PG_BINDIR / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-o", options, "start"],
        capture_output=True,
    )
    try:
        if started.returncode != 0:
            pytest.fail(f"postgres did not start: {started.stderr.decode()} {log.read_text() if log.exists() else ''}")
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_pg, str(PG_BINDIR / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True
        )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def pg_database(pg_server: str) -> AsyncIterator[str]:
    """A fresh database per test, dropped afterwards."""
    name = "t_" + uuid.uuid4().hex[:12]
    admin = await asyncpg.connect(pg_server)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        yield pg_server.rsplit("/", 1)[0] + "/" + name
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_settings(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Settings]:
    dsn = request.getfixturevalue("pg_database") if backend == "postgres" else ""

    def build(**overrides: Any) -> Settings:
        base: dict[str, Any] = {"sqlite_path": tmp_path / "gateway.db", "database_url": dsn, "pool_min_size": 1}
        return load_settings(environ={}, overrides=base | overrides)

    return build


@pytest.fixture
async def open_store(make_settings: Callable[..., Settings]) -> AsyncIterator[Callable[..., Awaitable[Store]]]:
    opened: list[Store] = []

    async def factory(**overrides: Any) -> Store:
        store = make_store(make_settings(**overrides))
        await store.open()
        opened.append(store)
        return store

    yield factory
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_store: Callable[..., Awaitable[Store]]) -> Store:
    return await open_store()


@pytest.fixture
async def make_client(
    make_settings: Callable[..., Settings],
) -> AsyncIterator[Callable[..., Awaitable[httpx.AsyncClient]]]:
    """In-process clients (httpx ASGITransport) over apps whose lifespan is running."""
    stack: list[tuple[FastAPI, Any, httpx.AsyncClient]] = []

    async def factory(**overrides: Any) -> httpx.AsyncClient:
        app = create_app(make_settings(**overrides), background_tasks=False)
        lifespan = app.router.lifespan_context(app)
        await lifespan.__aenter__()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
        client.app = app  # type: ignore[attr-defined]
        stack.append((app, lifespan, client))
        return client

    yield factory
    for _app, lifespan, client in reversed(stack):
        await client.aclose()
        await lifespan.__aexit__(None, None, None)


@pytest.fixture
async def client(make_client: Callable[..., Awaitable[httpx.AsyncClient]]) -> httpx.AsyncClient:
    return await make_client()
