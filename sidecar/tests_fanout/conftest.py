"""The fan-out stage's fixtures: every backend's real peer at once (the other stages' peer modules,
put on sys.path here rather than copied), and the sidecar fixtures of sidecar/tests/conftest.py
(loaded under another module name, since both files are `conftest`). The sidecars inherit moto's test
credentials from this process's environment (the AWS chain's first link; no developer's ~/.aws)."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wafermon_testkit.moto_server import CREDENTIALS

SIDECAR = Path(__file__).resolve().parents[1]
for _stage in ("tests_opensearch", "tests_zabbix", "tests_kafka", "tests_mq", "tests_mariadb", "tests_nats",
               "tests_mongodb", "tests_cassandra", "tests_aws"):  # fmt: skip
    sys.path.insert(0, str(SIDECAR / _stage))

from fanout_peers import Peers, all_peers  # noqa: E402  (needs the paths above)

_path = SIDECAR / "tests" / "conftest.py"
_spec = importlib.util.spec_from_file_location("sidecar_tests_conftest", _path)
assert _spec is not None and _spec.loader is not None
_sidecar_conftest = importlib.util.module_from_spec(_spec)
sys.modules["sidecar_tests_conftest"] = _sidecar_conftest
_spec.loader.exec_module(_sidecar_conftest)

procs = _sidecar_conftest.procs  # fixtures, re-exported for this directory's tests
sidecar = _sidecar_conftest.sidecar
receiver = _sidecar_conftest.receiver

os.environ.update(CREDENTIALS)
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peers]:
    with all_peers(tmp_path_factory.mktemp("peers")) as started:
        yield started
