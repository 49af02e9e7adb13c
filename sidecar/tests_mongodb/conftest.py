"""The mongodb stage's fixtures: one real FerretDB server per session, and the sidecar fixtures of
sidecar/tests/conftest.py (loaded under another module name, since both files are `conftest`)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ferretdb_peer import FerretDb

_path = Path(__file__).resolve().parents[1] / "tests" / "conftest.py"
_spec = importlib.util.spec_from_file_location("sidecar_tests_conftest", _path)
assert _spec is not None and _spec.loader is not None
_sidecar_conftest = importlib.util.module_from_spec(_spec)
sys.modules["sidecar_tests_conftest"] = _sidecar_conftest
_spec.loader.exec_module(_sidecar_conftest)

procs = _sidecar_conftest.procs  # fixtures, re-exported for this directory's tests
sidecar = _sidecar_conftest.sidecar


@pytest.fixture(scope="session")
def ferretdb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FerretDb]:
    node = FerretDb(tmp_path_factory.mktemp("ferretdb"))
    try:
        node.start()
        yield node
    finally:
        node.close()
