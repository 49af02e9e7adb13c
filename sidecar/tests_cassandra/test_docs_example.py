"""The cassandra example in docs/sidecar.md loads with --check-config as written, and delivers into
the real node once its contact points, replication and credentials are pointed at the test's."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from cassandra_peer import CassandraNode
from sidecar_tests_conftest import REPO, SidecarProc, make_events, wait_until
from stage_fixtures import checked_doc_example


def test_cassandra_doc_example_checks_and_delivers(
    tmp_path: Path, sidecar: Callable[..., SidecarProc], cassandra: CassandraNode
) -> None:
    config = checked_doc_example("cassandra", tmp_path, CASSANDRA_PASSWORD="s")
    # The same block against the test's node: one node in the driver's default data centre, no users.
    backend = config["backends"][0]
    test_config = dict(
        backend["config"],
        contact_points=["127.0.0.1"],
        port=cassandra.port,
        replication={"class": "NetworkTopologyStrategy", "datacenter1": 1},
        local_dc="datacenter1",
    )
    for key in ("username", "password"):
        test_config.pop(key)
    sc = sidecar([{**backend, "config": test_config}])
    events = make_events(20)
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("cass") == 0, 120, "delivery")
    assert cassandra.session().execute("SELECT count(*) FROM fab1.events").one()[0] == 20


def test_cassandra_bench_runs_and_prints_its_figures() -> None:
    """A tiny run of bench/cassandra_backend.py, so it keeps working (the real runs are by hand). It
    starts a node of its own: the stage's heaviest minute."""
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "cassandra_backend.py"), "--events", "400"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for needle in ("400 events in batches of 500", "cassandra backend", "cassandra-driver directly", "ratio"):
        assert needle in done.stdout, done.stdout
