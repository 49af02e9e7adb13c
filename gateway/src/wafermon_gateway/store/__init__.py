"""Stores: the embedded SQLite file (default) or PostgreSQL when a database URL is configured."""

from __future__ import annotations

from ..settings import Settings
from .base import IngestResult, Store


def make_store(settings: Settings) -> Store:
    if settings.uses_postgres:
        from .postgres import PostgresStore

        return PostgresStore(settings)
    from .sqlite import SqliteStore

    return SqliteStore(settings)


__all__ = ["IngestResult", "Store", "make_store"]
