"""The NATS stage's fixtures: one real server per session, and the sidecar fixtures of
sidecar/tests/conftest.py (loaded under another module name, since both files are `conftest`)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from nats_peer import NatsServer

_path = Path(__file__).resolve().parents[1] / "tests" / "conftest.py"
_spec = importlib.util.spec_from_file_location("sidecar_tests_conftest", _path)
assert _spec is not None and _spec.loader is not None
_sidecar_conftest = importlib.util.module_from_spec(_spec)
sys.modules["sidecar_tests_conftest"] = _sidecar_conftest
_spec.loader.exec_module(_sidecar_conftest)

procs = _sidecar_conftest.procs  # fixtures, re-exported for this directory's tests
sidecar = _sidecar_conftest.sidecar


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    try:
        server.start()
        yield server
    finally:
        server.stop()
