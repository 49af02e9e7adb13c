"""The Zabbix stage's fixtures: one real Zabbix server 6.0 (over its own PostgreSQL) per session,
and the sidecar fixtures of sidecar/tests/conftest.py (loaded under another module name, since both
files are `conftest`)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from zabbix_peer import DOCUMENTED_ITEMS, ZabbixServer

_path = Path(__file__).resolve().parents[1] / "tests" / "conftest.py"
_spec = importlib.util.spec_from_file_location("sidecar_tests_conftest", _path)
assert _spec is not None and _spec.loader is not None
_sidecar_conftest = importlib.util.module_from_spec(_spec)
sys.modules["sidecar_tests_conftest"] = _sidecar_conftest
_spec.loader.exec_module(_sidecar_conftest)

procs = _sidecar_conftest.procs  # fixtures, re-exported for this directory's tests
sidecar = _sidecar_conftest.sidecar

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
