"""The fan-out stage's fixtures: every backend's real peer at once (the other stages' peer modules,
put on sys.path here rather than copied), and the sidecar fixtures
(sidecar/tests/stage_fixtures.py). The sidecars inherit moto's test
credentials from this process's environment (the AWS chain's first link; no developer's ~/.aws)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from wafermon_testkit.moto_server import use_test_credentials

SIDECAR = Path(__file__).resolve().parents[1]
for _stage in ("tests", "tests_opensearch", "tests_zabbix", "tests_kafka", "tests_mq", "tests_mariadb", "tests_nats",
               "tests_mongodb", "tests_cassandra", "tests_aws"):  # fmt: skip
    sys.path.insert(0, str(SIDECAR / _stage))

from fanout_peers import Peers, all_peers  # noqa: E402  (needs the paths above)
from stage_fixtures import procs, sidecar  # noqa: E402  (fixtures, re-exported)
from stage_fixtures import sidecar_tests_conftest as _sidecar_conftest  # noqa: E402

receiver = _sidecar_conftest.receiver
__all__ = ["procs", "receiver", "sidecar"]

use_test_credentials()


@pytest.fixture(scope="session")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peers]:
    with all_peers(tmp_path_factory.mktemp("peers")) as started:
        yield started
