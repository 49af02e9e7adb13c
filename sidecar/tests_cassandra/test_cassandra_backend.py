"""The cassandra backend against a real single-node Cassandra 5.0 (started once per session): a
mixed batch read back field by field, replays, the node stopped mid-stream, a refused row."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cassandra_peer import MAX_MUTATION_BYTES, CassandraNode
from sidecar_tests_conftest import SIDECAR_EXE, SidecarProc, wait_until
from stage_fixtures import ride_out_outage

from wafermon_sidecar.backends.cassandra import COLUMNS, to_row
from wafermon_testkit.events import event, job_story


def cassandra_backend(node: CassandraNode, keyspace: str, **extra: Any) -> dict[str, Any]:
    config = {"contact_points": ["127.0.0.1"], "port": node.port, "keyspace": keyspace, **extra}
    return {"type": "cassandra", "name": "cass", "config": config}


def mixed_events() -> list[dict[str, Any]]:
    """Jobs with sub-jobs, a failed job, unicode and nested metadata, over two UTC days."""
    start = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)
    events = job_story(start=start, subjobs=2, metadata={"recipe": "R-17", "lot": {"id": "L-9", "wafers": [1, 2]}})
    events += job_story(start=start + timedelta(hours=3), outcome="failed", app="gravure-ätz", site_id="fab-β")
    events.append(
        event("finished", str(uuid.uuid4()), 1, start, metadata={"operator": "Zoë 東京", "deep": {"a": {"b": [1.5]}}})
    )
    return events


def rows(node: CassandraNode, keyspace: str) -> dict[str, dict[str, Any]]:
    """Every row of the table by event_id, as column → value."""
    result = node.session().execute(f"SELECT {', '.join(COLUMNS)} FROM {keyspace}.events")
    return {row.event_id: row._asdict() for row in result}


def test_cassandra_mixed_batch_reads_back_field_by_field(
    sidecar: Callable[..., SidecarProc], cassandra: CassandraNode
) -> None:
    events = mixed_events()
    sc = sidecar([cassandra_backend(cassandra, "mixed")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("cass") == 0, 120, "delivery to Cassandra")
    assert sc.health()["backends"]["cass"]["state"] == "ok"
    stored = rows(cassandra, "mixed")
    assert len(stored) == len(events)
    for e in events:
        row = stored[e["event_id"]]
        assert json.loads(row["event"]) == e  # the whole event, as sent
        expected = dict(zip(COLUMNS, to_row(e, row["event"]), strict=True))
        at = expected.pop("at")
        assert row.pop("at").replace(tzinfo=UTC) == at.replace(microsecond=at.microsecond // 1000 * 1000)  # ms
        assert {k: (v.date() if k == "day" else v) for k, v in row.items() if k != "day"} == {
            k: v for k, v in expected.items() if k != "day"
        }
        assert str(row["day"]) == at.date().isoformat()  # the event's own UTC day
        assert row["site_id"] == e["site_id"] and row["app_name"] == e["app"]["name"]
        assert row["status"] == e["status"] and row["event_kind"] == e["event_kind"]
        for metric in ("duration_s", "cpu_user_s", "mem_max_mb"):
            assert row[metric] == (e.get("metrics") or {}).get(metric)
    days = {str(r["day"]) for r in stored.values()}
    assert days == {"2026-03-01", "2026-03-02"}
    # Read by partition, in clustering order: one site's day, by time.
    one_day = list(
        cassandra.session().execute(
            "SELECT at, event_id FROM mixed.events WHERE site_id = %s AND day = %s", ("fab1", "2026-03-01")
        )
    )
    assert [r.at for r in one_day] == sorted(r.at for r in one_day) and one_day


def test_cassandra_replay_changes_nothing(sidecar: Callable[..., SidecarProc], cassandra: CassandraNode) -> None:
    events = mixed_events()
    sc = sidecar([cassandra_backend(cassandra, "replay")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("cass") == 0, 120, "first delivery")
    before = rows(cassandra, "replay")
    assert len(before) == len(events)
    assert sc.post(events).status_code == 202  # the same events again
    wait_until(lambda: sc.lag("cass") == 0, 120, "the replay")
    backend = sc.health()["backends"]["cass"]
    assert backend["state"] == "ok" and backend.get("dead_lettered_events", 0) == 0
    assert rows(cassandra, "replay") == before  # upserts by primary key: same rows, same values
    count = cassandra.session().execute("SELECT count(*) FROM replay.events").one()[0]
    assert count == len(events)


def test_cassandra_row_over_the_mutation_limit_is_dead_lettered_and_neighbours_delivered(
    sidecar: Callable[..., SidecarProc], cassandra: CassandraNode
) -> None:
    events = job_story(subjobs=1)
    # The node refuses a mutation over its max_mutation_size (80 KiB on the test node): this event's
    # row can never be written, while the rest of its partition's batch can.
    blob = "x" * (MAX_MUTATION_BYTES + 4096)
    bad = event("progress", events[0]["entity_id"], 9, datetime.now(UTC), metadata={"blob": blob})
    batch = [*events[:2], bad, *events[2:]]
    sc = sidecar([cassandra_backend(cassandra, "badone")])
    assert sc.post(batch).status_code == 202
    wait_until(lambda: sc.lag("cass") == 0, 120, "delivery past the refused row")
    assert sc.health()["backends"]["cass"]["dead_lettered_events"] == 1
    lines = [json.loads(x) for x in (sc.spool_dir / "deadletter" / "cass.jsonl").read_text().splitlines()]
    assert [x["event"]["event_id"] for x in lines] == [bad["event_id"]]
    assert "the node refused the row" in lines[0]["reason"]
    assert sorted(rows(cassandra, "badone")) == sorted(e["event_id"] for e in events)


def test_cassandra_node_stopped_mid_stream_lags_alone_then_everything_arrives_once(
    sidecar: Callable[..., SidecarProc], cassandra: CassandraNode, tmp_path: Path
) -> None:
    sc = sidecar(
        [
            {"type": "filesystem", "name": "files", "config": {"path": str(tmp_path / "files")}},
            cassandra_backend(cassandra, "outage", timeout=3),
        ],
        ingest={"max_batch_size": 100},
    )
    everything = ride_out_outage(
        sc, "cass", tmp_path / "files", cassandra.stop, cassandra.start, wait_s=120, catch_up_s=240
    ).everything
    assert sorted(rows(cassandra, "outage")) == sorted(e["event_id"] for e in everything)


def test_cassandra_config_errors_name_the_backend_and_the_key(tmp_path: Path) -> None:
    def check(config: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "sidecar.json"
        backend = {"type": "cassandra", "name": "docs", "config": config}
        path.write_text(json.dumps({"spool": {"path": str(tmp_path / "spool")}, "backends": [backend]}))
        return subprocess.run([SIDECAR_EXE, "--config", str(path), "--check-config"], capture_output=True, text=True)

    good = {"contact_points": ["db1", "db2"], "keyspace": "fab1"}
    done = check(good)
    assert done.returncode == 0, done.stderr
    for bad, key in (
        ({**good, "keyspaces": "x"}, "keyspaces"),
        ({**good, "keyspace": "a-b"}, "config.keyspace"),
        ({**good, "consistency": "MOST"}, "config.consistency"),
        ({**good, "replication": {"class": "SimpleStrategy', 'x"}}, "config.replication"),
        ({**good, "replication": {"replication_factor": 3}}, "config.replication"),
        ({**good, "username": "u"}, "config.password"),
        ({"contact_points": []}, "config.contact_points"),
    ):
        done = check(bad)
        assert done.returncode != 0 and key in done.stderr and "docs" in done.stderr, (bad, done.stderr)
