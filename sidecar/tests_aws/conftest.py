"""The AWS stage's fixtures: one moto server (an AWS protocol emulator, not AWS) per session, and the
sidecar fixtures of sidecar/tests/conftest.py (loaded under another module name, since both files
are `conftest`). The sidecars started here inherit moto's test credentials from this process's
environment (the standard AWS chain's first link); nothing reads a developer's ~/.aws."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wafermon_testkit.moto_server import CREDENTIALS, MotoServer

_path = Path(__file__).resolve().parents[1] / "tests" / "conftest.py"
_spec = importlib.util.spec_from_file_location("sidecar_tests_conftest", _path)
assert _spec is not None and _spec.loader is not None
_sidecar_conftest = importlib.util.module_from_spec(_spec)
sys.modules["sidecar_tests_conftest"] = _sidecar_conftest
_spec.loader.exec_module(_sidecar_conftest)

procs = _sidecar_conftest.procs  # fixtures, re-exported for this directory's tests
sidecar = _sidecar_conftest.sidecar

os.environ.update(CREDENTIALS)
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    try:
        server.start()
        yield server
    finally:
        server.stop()
