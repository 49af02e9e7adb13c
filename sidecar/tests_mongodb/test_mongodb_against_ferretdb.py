"""The mongodb backend against a real FerretDB server (the MongoDB wire protocol over SQLite, not
MongoDB itself; started once per session): a mixed batch read back field by field, the job states,
replays, the server stopped mid-stream, a permanently refused item."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ferretdb_peer import FerretDb
from sidecar_tests_conftest import SIDECAR_EXE, SidecarProc, wait_until
from stage_fixtures import ride_out_outage

from wafermon_sidecar.backends.mongodb import event_time, to_document
from wafermon_testkit.events import event, job_story


def mongo_backend(peer: FerretDb, database: str, **extra: Any) -> dict[str, Any]:
    return {"type": "mongodb", "name": "mongo", "config": {"uri": peer.uri, "database": database, **extra}}


def mixed_events() -> list[dict[str, Any]]:
    """Jobs with sub-jobs, a failed job, unicode and nested metadata."""
    start = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)
    events = job_story(start=start, subjobs=2, metadata={"recipe": "R-17", "lot": {"id": "L-9", "wafers": [1, 2]}})
    events += job_story(start=start + timedelta(hours=3), outcome="failed", app="gravure-ätz", site_id="fab-β")
    events.append(
        event(
            "finished", str(uuid.uuid4()), 1, start, metadata={"operator": "Zoë 東京", "deep": {"a": {"b": {"c": 1.5}}}}
        )
    )
    return events


def test_mongodb_against_ferretdb_mixed_batch_reads_back_field_by_field(
    sidecar: Callable[..., SidecarProc], ferretdb: FerretDb
) -> None:
    events = mixed_events()
    sc = sidecar([mongo_backend(ferretdb, "mixed")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("mongo") == 0, 60, "delivery to FerretDB")
    assert sc.health()["backends"]["mongo"]["state"] == "ok"
    db = ferretdb.client()["mixed"]
    assert db.events.count_documents({}) == len(events)
    for e in events:
        doc = db.events.find_one({"_id": e["event_id"]})
        assert doc is not None, e
        assert doc == to_document(e)
        assert doc["event"] == e  # the whole event, unchanged (unicode, nested metadata)
        moment = event_time(e["at"])  # a BSON date keeps milliseconds
        assert doc["timestamp"] == moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        assert doc["site_id"] == e["site_id"] and doc["app_name"] == e["app"]["name"]
        assert doc["entity_type"] == e["entity_type"] and doc["event_kind"] == e["event_kind"]
        assert doc["status"] == e["status"]
        for metric in ("duration_s", "cpu_user_s", "mem_max_mb"):
            assert doc.get(metric) == (e.get("metrics") or {}).get(metric)
    found = list(db.events.find({"event.metadata.operator": "Zoë 東京"}, {"_id": 1}))
    assert found == [{"_id": events[-1]["event_id"]}]
    # The jobs collection: one document per job and sub-job, the state of its last event.
    entities = {e["entity_id"] for e in events}
    assert db.jobs.count_documents({}) == len(entities)
    failed_job = next(e for e in events if e["status"] == "failed")
    state = db.jobs.find_one({"_id": failed_job["entity_id"]})
    assert state is not None
    assert state["status"] == "failed" and state["event_kind"] == "finished"
    assert state["event_id"] == failed_job["event_id"] and state["error"] == failed_job["error"]
    assert state["site_id"] == "fab-β" and state["app_name"] == "gravure-ätz"


def test_mongodb_against_ferretdb_job_state_only_moves_forward(
    sidecar: Callable[..., SidecarProc], ferretdb: FerretDb
) -> None:
    story = job_story(subjobs=1)
    finished = story[-1]
    sc = sidecar([mongo_backend(ferretdb, "forward")], ingest={"max_batch_size": 1})
    # The finished event first, then the older ones in later batches: the state stays `finished`.
    assert sc.post([finished]).status_code == 202
    wait_until(lambda: sc.lag("mongo") == 0, 60, "the finished event")
    assert sc.post(story[:-1]).status_code == 202
    wait_until(lambda: sc.lag("mongo") == 0, 60, "the older events")
    jobs = ferretdb.client()["forward"].jobs
    state = jobs.find_one({"_id": finished["entity_id"]})
    assert state is not None and state["event_id"] == finished["event_id"] and state["status"] == "succeeded"
    assert state["metrics"] == finished["metrics"]
    # A later event does move it forward (and what it lacks, here metrics, goes).
    later = event("progress", finished["entity_id"], finished["seq"] + 1, datetime.now(UTC), status="running")
    assert sc.post([later]).status_code == 202
    wait_until(lambda: sc.lag("mongo") == 0, 60, "the later event")
    state = jobs.find_one({"_id": finished["entity_id"]})
    assert state is not None and state["event_id"] == later["event_id"] and "metrics" not in state


def test_mongodb_against_ferretdb_replay_changes_nothing(
    sidecar: Callable[..., SidecarProc], ferretdb: FerretDb
) -> None:
    events = mixed_events()
    sc = sidecar([mongo_backend(ferretdb, "replay")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("mongo") == 0, 60, "first delivery")
    db = ferretdb.client()["replay"]
    before = sorted(db.events.find({}), key=lambda d: d["_id"])
    jobs_before = sorted(db.jobs.find({}), key=lambda d: d["_id"])
    assert len(before) == len(events)
    assert sc.post(events).status_code == 202  # the same events again
    wait_until(lambda: sc.lag("mongo") == 0, 60, "the replay")
    backend = sc.health()["backends"]["mongo"]
    assert backend["state"] == "ok" and backend.get("dead_lettered_events", 0) == 0
    assert sorted(db.events.find({}), key=lambda d: d["_id"]) == before
    assert sorted(db.jobs.find({}), key=lambda d: d["_id"]) == jobs_before


def test_mongodb_against_ferretdb_refused_item_is_dead_lettered_and_neighbours_delivered(
    sidecar: Callable[..., SidecarProc], ferretdb: FerretDb
) -> None:
    events = job_story(subjobs=1)
    # FerretDB 1.24 refuses a field name that starts with "$" (MongoDB itself stores it since 5.0):
    # a server-side refusal of this item alone, as a write error in the insert's answer.
    bad = event("finished", str(uuid.uuid4()), 1, datetime.now(UTC), metadata={"$where": "1 == 1"})
    # And one that never reaches the server: BSON holds no integer over 64 bits.
    huge = event("finished", str(uuid.uuid4()), 1, datetime.now(UTC), metadata={"wafer_count": 10**20})
    batch = [*events[:2], bad, *events[2:4], huge, *events[4:]]
    sc = sidecar([mongo_backend(ferretdb, "badone")])
    assert sc.post(batch).status_code == 202
    wait_until(lambda: sc.lag("mongo") == 0, 60, "delivery past the refused item")
    assert sc.health()["backends"]["mongo"]["dead_lettered_events"] == 2
    lines = [json.loads(x) for x in (sc.spool_dir / "deadletter" / "mongo.jsonl").read_text().splitlines()]
    assert sorted(x["event"]["event_id"] for x in lines) == sorted([bad["event_id"], huge["event_id"]])
    reasons = {x["event"]["event_id"]: x["reason"] for x in lines}
    assert "the server refused the document (code 2)" in reasons[bad["event_id"]]
    assert "$where" in reasons[bad["event_id"]]
    assert "cannot be encoded as a BSON document" in reasons[huge["event_id"]]
    db = ferretdb.client()["badone"]
    assert sorted(d["_id"] for d in db.events.find({}, {"_id": 1})) == sorted(e["event_id"] for e in events)
    assert db.jobs.find_one({"_id": bad["entity_id"]}) is None  # a refused event sets no job state
    assert db.jobs.find_one({"_id": huge["entity_id"]}) is None


def test_mongodb_against_ferretdb_stopped_mid_stream_lags_alone_then_everything_arrives_once(
    sidecar: Callable[..., SidecarProc], ferretdb: FerretDb, tmp_path: Path
) -> None:
    sc = sidecar(
        [
            {"type": "filesystem", "name": "files", "config": {"path": str(tmp_path / "files")}},
            mongo_backend(ferretdb, "outage", timeout=2),
        ],
        ingest={"max_batch_size": 100},
    )
    everything = ride_out_outage(sc, "mongo", tmp_path / "files", ferretdb.stop, ferretdb.start).everything
    db = ferretdb.client()["outage"]
    assert db.events.count_documents({}) == len(everything)  # _id = event_id: once each
    assert sorted(d["_id"] for d in db.events.find({}, {"_id": 1})) == sorted(e["event_id"] for e in everything)


def test_mongodb_config_errors_name_the_backend_and_the_key(tmp_path: Path) -> None:
    def check(config: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "sidecar.json"
        backend = {"type": "mongodb", "name": "docs", "config": config}
        path.write_text(json.dumps({"spool": {"path": str(tmp_path / "spool")}, "backends": [backend]}))
        return subprocess.run(
            [SIDECAR_EXE, "--config", str(path), "--check-config"],
            capture_output=True,
            text=True,
            env={"MONGO_PW": "s"},
        )

    good = {"uri": "mongodb://wafermon:${MONGO_PW}@db1:27017,db2:27017/?replicaSet=rs0&authSource=admin"}
    done = check(good)
    assert done.returncode == 0, done.stderr
    for bad, key in (
        ({**good, "colection": "x"}, "colection"),
        ({**good, "database": "a.b"}, "config.database"),
        ({**good, "timeout": 0}, "config.timeout"),
        ({"uri": "http://db1:27017"}, "config.uri"),
        ({"uri": "mongodb://db1:notaport"}, "config.uri"),
        ({}, "uri"),
    ):
        done = check(bad)
        assert done.returncode != 0 and key in done.stderr and "docs" in done.stderr, (bad, done.stderr)


def test_mongodb_against_ferretdb_dotted_metadata_keys_are_stored_escaped(
    sidecar: Callable[..., SidecarProc], ferretdb: FerretDb
) -> None:
    # The schema's own heartbeat key has a dot; FerretDB (like MongoDB before 5.0) refuses dotted keys.
    story = job_story(metadata={"wafermon.heartbeat_s": 30, "lot": {"a.b": [{"c.d": 1}]}})
    sc = sidecar([mongo_backend(ferretdb, "dotted")])
    assert sc.post(story).status_code == 202
    wait_until(lambda: sc.lag("mongo") == 0, 60, "delivery")
    assert sc.health()["backends"]["mongo"].get("dead_lettered_events", 0) == 0
    doc = ferretdb.client()["dotted"].events.find_one({"_id": story[0]["event_id"]})
    assert doc is not None
    assert doc["event"]["metadata"] == {"wafermon\uff0eheartbeat_s": 30, "lot": {"a\uff0eb": [{"c\uff0ed": 1}]}}
    assert ferretdb.client()["dotted"].events.count_documents({"event.metadata.wafermon\uff0eheartbeat_s": 30}) == 4
