"""The mongodb example in docs/sidecar.md loads with --check-config as written, and delivers into
the real FerretDB server once its URI is pointed at the test's."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

from ferretdb_peer import FerretDb
from sidecar_tests_conftest import REPO, SIDECAR_EXE, SidecarProc, make_events, wait_until
from stage_fixtures import checked_doc_example


def test_mongodb_doc_example_checks_and_delivers_into_ferretdb(
    tmp_path: Path, sidecar: Callable[..., SidecarProc], ferretdb: FerretDb
) -> None:
    config = checked_doc_example("mongodb", tmp_path, MONGO_PASSWORD="s")
    # The same block against the test's server: its URI (no users there), the rest as written.
    backend = config["backends"][0]
    sc = sidecar([{**backend, "config": {**backend["config"], "uri": ferretdb.uri}}])
    events = make_events(20)
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("mongo") == 0, 60, "delivery")
    db = ferretdb.client()["fab1"]
    assert db.events.count_documents({}) == 20
    assert db.jobs.count_documents({}) == len({e["entity_id"] for e in events})


def test_mongodb_bench_runs_and_prints_its_figures() -> None:
    """A tiny run of bench/mongodb_backend.py, so it keeps working (the real runs are by hand)."""
    done = subprocess.run(
        [str(Path(SIDECAR_EXE).with_name("python")), str(REPO / "bench" / "mongodb_backend.py"), "--events", "400"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for needle in ("400 events in batches of 500", "events + jobs", "events only", "pymongo insert_many", "ratio"):
        assert needle in done.stdout, done.stdout
