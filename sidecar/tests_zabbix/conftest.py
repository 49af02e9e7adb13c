"""The Zabbix stage's fixtures: one real Zabbix server 6.0 (over its own PostgreSQL) per session,
and the sidecar fixtures (sidecar/tests/stage_fixtures.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from zabbix_peer import DOCUMENTED_ITEMS, ZabbixServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from stage_fixtures import procs, sidecar  # procs, sidecar: fixtures, re-exported

__all__ = ["procs", "sidecar"]

#: one host per test, so tests never see each other's values; `wafer-partial` has the job items only;
#: bench/zabbix_backend.py's two hosts for its smoke run
HOSTS = {
    **{name: dict(DOCUMENTED_ITEMS) for name in ("mixed", "replay", "outage", "direct", "fab1-wafer-monitor")},
    **{name: dict(DOCUMENTED_ITEMS) for name in ("bench-backend", "bench-client")},
    "wafer-partial": {k: t for k, t in DOCUMENTED_ITEMS.items() if k.startswith("wafer.job.")},
}


@pytest.fixture(scope="session")
def zabbix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZabbixServer]:
    server = ZabbixServer(tmp_path_factory.mktemp("zabbix"), HOSTS)
    server.init()
    try:
        yield server
    finally:
        server.destroy()
