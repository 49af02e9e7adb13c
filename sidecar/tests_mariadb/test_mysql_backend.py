"""The mysql backend against a real MariaDB server (started once per session): a mixed batch read
back column by column, replays, the jobs table moving only forward, a server stopped mid-stream,
rows the server refuses for good."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mariadb_peer import MariaDbServer
from sidecar_tests_conftest import SIDECAR_EXE, SidecarProc, wait_until
from stage_fixtures import ride_out_outage

from wafermon_sidecar.backends import Batch
from wafermon_sidecar.backends.base import PermanentError, TransientError
from wafermon_sidecar.backends.mysql import MysqlBackend
from wafermon_sidecar.backends.mysql_rows import EVENT_COLUMNS, JOB_COLUMNS, event_row, job_rows
from wafermon_testkit.events import event, job_story


def mysql_backend(server: MariaDbServer, table: str, **extra: Any) -> dict[str, Any]:
    return {"type": "mysql", "name": "sql", "config": server.backend_config(table=table, **extra)}


def mixed_events() -> list[dict[str, Any]]:
    """Jobs with sub-jobs, a failed job, unicode and nested metadata, over two UTC days."""
    day1 = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)
    events = job_story(start=day1, subjobs=2, metadata={"recipe": "R-17", "lot": {"id": "L-9", "wafers": [1, 2]}})
    events += job_story(start=day1 + timedelta(hours=3), outcome="failed", app="gravure-ätz", site_id="fab-β")
    events.append(
        event("finished", str(uuid.uuid4()), 1, day1, metadata={"operator": "Zoë 東京 🚀", "deep": {"a": {"b": 1.5}}})
    )
    return events


def stored_value(value: Any) -> Any:
    """A value read back by pymysql in the form event_row gives it (DATETIME(6) as its literal)."""
    return value.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(value, datetime) else value


def test_mixed_batch_reads_back_column_by_column(sidecar: Callable[..., SidecarProc], mariadb: MariaDbServer) -> None:
    events = mixed_events()
    sc = sidecar([mysql_backend(mariadb, "mixed", jobs_table="mixed_jobs")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("sql") == 0, 60, "delivery to MariaDB")
    assert sc.health()["backends"]["sql"]["state"] == "ok"
    rows = {r["event_id"]: r for r in mariadb.query("SELECT * FROM mixed")}
    assert len(rows) == len(events)
    for e in events:
        row = rows[e["event_id"]]
        expected = dict(zip(EVENT_COLUMNS, event_row(e, json.dumps(e)), strict=True))
        assert json.loads(row.pop("event")) == e  # the whole event, as sent
        expected.pop("event")
        assert {k: stored_value(v) for k, v in row.items()} == expected
        assert row["app_name"] == e["app"]["name"] and row["site_id"] == e["site_id"]
        assert row["at"] == datetime.strptime(e["at"], "%Y-%m-%dT%H:%M:%S.%fZ")  # UTC, microseconds kept
        assert row["duration_s"] == (e.get("metrics") or {}).get("duration_s")
    found = mariadb.query(
        "SELECT event_id FROM mixed WHERE JSON_VALUE(event, '$.metadata.operator') = %s", ["Zoë 東京 🚀"]
    )
    assert [r["event_id"] for r in found] == [events[-1]["event_id"]]  # the JSON is queryable, 4-byte UTF-8 kept
    jobs = {r["entity_id"]: r for r in mariadb.query("SELECT * FROM mixed_jobs")}
    assert len(jobs) == len({e["entity_id"] for e in events})
    for expected_row in job_rows(events):
        expected = dict(zip(JOB_COLUMNS, expected_row, strict=True))
        assert {k: stored_value(v) for k, v in jobs[expected["entity_id"]].items()} == expected
    failed = [j for j in jobs.values() if j["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["error_type"] == "RuntimeError" and failed[0]["event_kind"] == "finished"


def test_replay_changes_nothing(sidecar: Callable[..., SidecarProc], mariadb: MariaDbServer) -> None:
    events = mixed_events()
    sc = sidecar([mysql_backend(mariadb, "replay", jobs_table="replay_jobs")])
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("sql") == 0, 60, "first delivery")
    before = (
        mariadb.query("SELECT * FROM replay ORDER BY event_id"),
        mariadb.query("SELECT * FROM replay_jobs ORDER BY entity_id"),
    )
    assert len(before[0]) == len(events)
    assert sc.post(events).status_code == 202  # the same events again
    wait_until(lambda: sc.lag("sql") == 0, 60, "the replay")
    backend = sc.health()["backends"]["sql"]
    assert backend["state"] == "ok" and backend.get("dead_lettered_events", 0) == 0
    after = (
        mariadb.query("SELECT * FROM replay ORDER BY event_id"),
        mariadb.query("SELECT * FROM replay_jobs ORDER BY entity_id"),
    )
    assert after == before


def run_backend(server: MariaDbServer, batches: list[list[dict[str, Any]]], **config: Any) -> list[dict[int, str]]:
    """Sends each batch through a MysqlBackend in this process; the rejected map of each (empty: all taken)."""

    async def go() -> list[dict[int, str]]:
        backend = MysqlBackend("sql", server.backend_config(**config))
        await backend.initialize()
        results = []
        try:
            for events in batches:
                try:
                    await backend.send_batch(Batch([json.dumps(e).encode() for e in events]))
                    results.append({})
                except PermanentError as exc:
                    results.append(exc.rejected)
        finally:
            await backend.close()
        return results

    return asyncio.run(go())


def test_jobs_table_only_moves_forward(mariadb: MariaDbServer) -> None:
    story = job_story(subjobs=1)  # started, progress, progress, sub started, sub finished, finished
    finished = story[-1]
    assert run_backend(mariadb, [[story[0], finished], story[1:3], [story[0]]], table="fwd", jobs_table="fwd_jobs") == [
        {},
        {},
        {},
    ]
    job = mariadb.query("SELECT * FROM fwd_jobs WHERE entity_id = %s", [finished["entity_id"]])[0]
    # the older progress events and the started replay came later, and changed nothing
    assert (job["status"], job["event_kind"], job["last_event_id"]) == ("succeeded", "finished", finished["event_id"])
    assert job["duration_s"] == finished["metrics"]["duration_s"] and job["seq"] == finished["seq"]
    assert stored_value(job["started_at"]) == event_row(story[0], "{}")[1]
    sub = story[3:5]
    run_backend(mariadb, [[sub[1]], [sub[0]]], table="fwd", jobs_table="fwd_jobs")
    row = mariadb.query("SELECT * FROM fwd_jobs WHERE entity_id = %s", [sub[0]["entity_id"]])[0]
    # the sub-job's started event, older, arrived last: the state stays finished, started_at is filled in
    assert row["status"] == "succeeded" and row["entity_type"] == "subjob" and row["parent_id"] == finished["entity_id"]
    assert stored_value(row["started_at"]) == event_row(sub[0], "{}")[1]


def narrowed_table(server: MariaDbServer, table: str) -> None:
    """The backend's table, then narrowed by its operator: business_key 16 characters, app_name utf8mb3."""
    assert run_backend(server, [job_story()[:1]], table=table) == [{}]
    with server.connect() as db, db.cursor() as cur:
        cur.execute(f"ALTER TABLE `{table}` MODIFY business_key VARCHAR(16) NULL")
        cur.execute(f"ALTER TABLE `{table}` MODIFY app_name VARCHAR(128) CHARACTER SET utf8mb3 NOT NULL")


def test_refused_rows_are_dead_lettered_and_neighbours_delivered(
    sidecar: Callable[..., SidecarProc], mariadb: MariaDbServer
) -> None:
    narrowed_table(mariadb, "narrow")
    good = [e for _ in range(5) for e in job_story(subjobs=1)]
    too_long = event("started", str(uuid.uuid4()), 0, datetime.now(UTC), business_key="lot-" + "9" * 40)
    no_charset = event("started", str(uuid.uuid4()), 0, datetime.now(UTC), app="etch-🚀")
    batch = [*good[:7], too_long, *good[7:20], no_charset, *good[20:]]
    sc = sidecar([mysql_backend(mariadb, "narrow")])
    assert sc.post(batch).status_code == 202
    wait_until(lambda: sc.lag("sql") == 0, 60, "delivery past the refused rows")
    assert sc.health()["backends"]["sql"]["dead_lettered_events"] == 2
    lines = [json.loads(x) for x in (sc.spool_dir / "deadletter" / "sql.jsonl").read_text().splitlines()]
    assert [x["event"]["event_id"] for x in lines] == [too_long["event_id"], no_charset["event_id"]]
    assert lines[0]["reason"].startswith("the server refused the row: data too long for the column: (1406)")
    assert lines[1]["reason"].startswith(
        "the server refused the row: a string the column's character set cannot hold: (1366)"
    )
    stored = {r["event_id"] for r in mariadb.query("SELECT event_id FROM narrow")}
    assert {e["event_id"] for e in good} <= stored and not {too_long["event_id"], no_charset["event_id"]} & stored
    assert len(stored) == len(good) + 1  # + the row narrowed_table wrote


def test_refused_rows_are_found_by_splitting_in_few_statements(mariadb: MariaDbServer) -> None:
    """Two refused rows among 64: found by halving (the server rolls back a refused statement alone),
    in at most 1 + 2 * 2 * log2(64) = 25 INSERT statements, not one per row; the 62 others stored once."""
    narrowed_table(mariadb, "split")
    events = [event("started", str(uuid.uuid4()), 0, datetime.now(UTC)) for _ in range(64)]
    for i in (5, 40):
        events[i]["business_key"] = "x" * 17

    def inserts() -> int:
        with mariadb.root() as db, db.cursor() as cur:
            cur.execute("SHOW GLOBAL STATUS LIKE 'Com_insert'")
            return int(cur.fetchone()[1])

    before = inserts()
    [rejected] = run_backend(mariadb, [events], table="split")
    statements = inserts() - before
    assert sorted(rejected) == [5, 40]
    assert all("data too long" in reason for reason in rejected.values())
    assert 2 < statements <= 25, statements
    stored = {r["event_id"] for r in mariadb.query("SELECT event_id FROM split")}
    assert stored >= {e["event_id"] for i, e in enumerate(events) if i not in (5, 40)}
    assert not stored & {events[5]["event_id"], events[40]["event_id"]}


def test_unreachable_server_is_a_transient_error_naming_it(mariadb: MariaDbServer) -> None:
    async def go() -> str:
        backend = MysqlBackend("sql", {**mariadb.backend_config(), "port": 1, "connect_timeout": 2})
        await backend.initialize()
        try:
            await backend.send_batch(Batch([json.dumps(job_story()[0]).encode()]))
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        return "no error"

    message = asyncio.run(go())
    assert message.startswith("TransientError: mysql 127.0.0.1:1/wafermon: cannot connect:"), message


def test_server_stopped_mid_stream_lags_alone_then_everything_arrives_once(
    sidecar: Callable[..., SidecarProc], mariadb: MariaDbServer, tmp_path: Path
) -> None:
    sc = sidecar(
        [
            {"type": "filesystem", "name": "files", "config": {"path": str(tmp_path / "files")}},
            mysql_backend(mariadb, "outage", jobs_table="outage_jobs", connect_timeout=2, timeout=5),
        ],
        ingest={"max_batch_size": 100},
    )
    everything = ride_out_outage(sc, "sql", tmp_path / "files", mariadb.stop, mariadb.start).everything
    rows = mariadb.query("SELECT event_id FROM outage")
    assert sorted(r["event_id"] for r in rows) == sorted(e["event_id"] for e in everything)  # once each
    assert mariadb.count("outage_jobs") == len({e["entity_id"] for e in everything})
    assert {r["status"] for r in mariadb.query("SELECT status FROM outage_jobs")} == {"succeeded"}


def test_config_errors_name_the_backend_and_the_key(tmp_path: Path) -> None:
    def check(config: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "sidecar.json"
        backend = {"type": "mysql", "name": "warehouse", "config": config}
        path.write_text(json.dumps({"spool": {"path": str(tmp_path / "spool")}, "backends": [backend]}))
        return subprocess.run(
            [SIDECAR_EXE, "--config", str(path), "--check-config"],
            capture_output=True,
            text=True,
            env={"MYSQL_PASSWORD": "s"},
        )

    good = {"host": "db.example", "user": "wafermon", "password": "${MYSQL_PASSWORD}", "database": "fab1"}
    assert check(good).returncode == 0, check(good).stderr
    for key, value in (("table", "events; DROP"), ("port", 0), ("tabel", "x"), ("database", ""), ("timeout", -1)):
        done = check({**good, key: value})
        assert done.returncode != 0 and f"config.{key}" in done.stderr and "warehouse" in done.stderr, (
            key,
            done.stderr,
        )


def test_tls_with_the_servers_ca_and_a_client_certificate(mariadb: MariaDbServer) -> None:
    """A user that requires TLS is served over TLS (tls + ca_file, the host name checked); one that
    requires a client certificate gets it (cert_file + key_file); without TLS the server refuses."""
    pki = mariadb.pki
    events = job_story(progress_steps=0)
    tls = {"user": "wafermon_tls", "tls": True, "ca_file": str(pki.ca)}
    assert run_backend(mariadb, [events[:1]], table="tls_rows", **tls) == [{}]
    x509 = {
        "user": "wafermon_x509",
        "ca_file": str(pki.ca),
        "cert_file": str(pki.client_cert),
        "key_file": str(pki.client_key),
    }
    assert run_backend(mariadb, [events[1:]], table="tls_rows", **x509) == [{}]
    assert mariadb.count("tls_rows") == len(events)
    with pytest.raises(TransientError, match=r"^mysql 127\.0\.0\.1:\d+/wafermon: cannot connect: \(1045\)"):
        run_backend(mariadb, [events], table="tls_rows", user="wafermon_tls")  # no TLS: access denied
    with pytest.raises(TransientError, match="cannot connect"):  # the system's CAs do not know the test's CA
        run_backend(mariadb, [events], table="tls_rows", user="wafermon_tls", tls=True)
    with pytest.raises(TransientError, match=r"cannot load config\.ca_file '.*\.missing'"):
        run_backend(mariadb, [events], table="tls_rows", user="wafermon_tls", ca_file=str(pki.ca) + ".missing")
    with pytest.raises(TransientError, match=r"cannot load config\.cert_file"):  # a CA is no client certificate
        run_backend(mariadb, [events], table="tls_rows", **{**x509, "cert_file": str(pki.ca)})


def test_a_table_dropped_while_running_is_created_again(mariadb: MariaDbServer) -> None:
    """The table gone (dropped, a new empty server): one attempt fails naming it, the retry creates
    it again and delivers."""
    first, second = job_story(progress_steps=0), job_story(progress_steps=0)

    async def go() -> str:
        backend = MysqlBackend("sql", mariadb.backend_config(table="dropped", jobs_table="dropped_jobs"))
        try:
            await backend.send_batch(Batch([json.dumps(e).encode() for e in first]))
            mariadb.query("DROP TABLE dropped, dropped_jobs")
            batch = Batch([json.dumps(e).encode() for e in second])
            try:
                await backend.send_batch(batch)
                failure = "none"
            except TransientError as exc:
                failure = str(exc)
            await backend.send_batch(batch)  # the worker's retry
        finally:
            await backend.close()
        return failure

    failure = asyncio.run(go())
    assert "(1146)" in failure and failure.endswith("the batch is rolled back"), failure
    assert sorted(r["event_id"] for r in mariadb.query("SELECT event_id FROM dropped")) == sorted(
        e["event_id"] for e in second
    )
    assert mariadb.count("dropped_jobs") == 1


def test_unix_socket_instead_of_host_and_port(mariadb: MariaDbServer) -> None:
    events = job_story(progress_steps=0)
    assert run_backend(mariadb, [events], table="by_socket", unix_socket=str(mariadb.socket), port=1) == [{}]
    assert mariadb.count("by_socket") == len(events)


def test_a_refused_jobs_row_dead_letters_that_jobs_events_only(mariadb: MariaDbServer) -> None:
    """The jobs table narrowed by its operator (app_name utf8mb3): the job whose app has a 4-byte
    character is dead-lettered with the reason; its events rows and every other job are stored."""
    assert run_backend(mariadb, [job_story()[:1]], table="jr", jobs_table="jr_jobs") == [{}]
    mariadb.query("ALTER TABLE jr_jobs MODIFY app_name VARCHAR(128) CHARACTER SET utf8mb3 NOT NULL")
    good = job_story(progress_steps=1)
    bad = job_story(progress_steps=1, app="etch-🚀")
    [rejected] = run_backend(mariadb, [[*good[:2], *bad, *good[2:]]], table="jr", jobs_table="jr_jobs")
    assert sorted(rejected) == [2, 3, 4]  # the bad job's three events
    assert all(
        r.startswith("the jobs table `jr_jobs` refused this job's row") and "(1366)" in r for r in rejected.values()
    )
    stored = {r["event_id"] for r in mariadb.query("SELECT event_id FROM jr")}
    assert {e["event_id"] for e in good + bad} <= stored
    jobs = {r["entity_id"]: r["status"] for r in mariadb.query("SELECT entity_id, status FROM jr_jobs")}
    assert jobs.get(good[0]["entity_id"]) == "succeeded" and bad[0]["entity_id"] not in jobs


def test_an_event_too_large_for_one_statement_is_refused_unsent(mariadb: MariaDbServer) -> None:
    """Statements stay within max_statement_bytes: an event that alone would exceed it is
    dead-lettered before anything is sent; the rest of the batch goes in several statements."""
    events = [
        event("started", str(uuid.uuid4()), 0, datetime.now(UTC), metadata={"pad": "p" * 3000}) for _ in range(60)
    ]
    events[30]["metadata"] = {"blob": '"' * 40000}  # escaped, each quote takes two bytes: over 64 KiB
    [rejected] = run_backend(mariadb, [events], table="big", max_statement_bytes=65536)
    assert list(rejected) == [30] and "over the 65536 allowed (max_statement_bytes" in rejected[30]
    assert mariadb.count("big") == 59
