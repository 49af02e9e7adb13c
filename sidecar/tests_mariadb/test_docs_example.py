"""The mysql example in docs/sidecar.md loads with --check-config as written, and delivers into the
real server once its host, port, credentials and database are pointed at the test's."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mariadb_peer import MariaDbServer
from sidecar_tests_conftest import SidecarProc, make_events, wait_until
from stage_fixtures import checked_doc_example


def test_doc_example_checks_and_delivers(
    tmp_path: Path, sidecar: Callable[..., SidecarProc], mariadb: MariaDbServer
) -> None:
    config = checked_doc_example("mysql", tmp_path, MYSQL_PASSWORD="s")
    # The same block against the test's server: its address and user, no TLS (it has no certificate).
    backend = config["backends"][0]
    test_config = {**backend["config"], **mariadb.backend_config()}
    for key in ("tls", "ca_file"):
        test_config.pop(key)
    sc = sidecar([{**backend, "config": test_config}])
    events = make_events(20)
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag(backend["name"]) == 0, 60, "delivery")
    table, jobs_table = backend["config"]["table"], backend["config"]["jobs_table"]
    ids = [e["event_id"] for e in events]
    assert mariadb.query(f"SELECT COUNT(*) AS n FROM `{table}` WHERE event_id IN %s", [ids])[0]["n"] == 20
    assert mariadb.count(jobs_table) >= len({e["entity_id"] for e in events})
