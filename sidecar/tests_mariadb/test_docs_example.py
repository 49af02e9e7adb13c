"""The mysql example in docs/sidecar.md loads with --check-config as written, and delivers into the
real server once its host, port, credentials and database are pointed at the test's."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml
from mariadb_peer import MariaDbServer
from sidecar_tests_conftest import REPO, SIDECAR_EXE, SidecarProc, make_events, wait_until

DOC = (REPO / "docs" / "sidecar.md").read_text()
EXAMPLE = re.search(r"<!-- doc-test-mysql: config -->\n```yaml\n(.*?)```", DOC, re.DOTALL)


def test_doc_example_checks_and_delivers(
    tmp_path: Path, sidecar: Callable[..., SidecarProc], mariadb: MariaDbServer
) -> None:
    assert EXAMPLE is not None, "docs/sidecar.md lost its mysql example"
    config = yaml.safe_load(EXAMPLE.group(1))
    config["spool"]["path"] = str(tmp_path / "spool")
    path = tmp_path / "sidecar.yaml"
    path.write_text(yaml.safe_dump(config))
    done = subprocess.run(
        [SIDECAR_EXE, "--config", str(path), "--check-config"],
        capture_output=True,
        text=True,
        env={"MYSQL_PASSWORD": "s"},
    )
    assert done.returncode == 0, done.stderr
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
