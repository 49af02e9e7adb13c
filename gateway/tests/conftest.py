"""Fixtures: a real PostgreSQL server started for the session, and stores/apps over both backends."""

from __future__ import annotations

import shutil
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
from wafermon_testkit import free_port
from wafermon_testkit.postgres import FAST, Postgres, postgres_server

__all__ = ["free_port"]  # the test kit's, for the test modules


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A private PostgreSQL server for the session (test kit: initdb in a temp dir, a free port)."""
    with postgres_server(f"{FAST} -c max_connections=300", stop_mode="immediate") as dsn:
        yield dsn


@pytest.fixture
def pg_cluster() -> Iterator[Postgres]:
    """A PostgreSQL server of the test's own, for tests that stop and restart it (test kit). Not under
    tmp_path: pytest makes its parents 0700, which the postgres user cannot enter."""
    parent = Path(tempfile.mkdtemp(prefix="wafermon-pg-"))
    server = Postgres(parent / "pg", f"{FAST} -c max_connections=300")
    try:
        yield server.init()
    finally:
        server.destroy("immediate")
        shutil.rmtree(parent, ignore_errors=True)


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
