"""The csv and json exports behind a real `wafermon-sidecar` process: a mixed batch read back field by field,
replays that change nothing, a crash (a torn tail by hand, and kill -9 mid-stream) that leaves whole rows
only with every event once, hourly rotation by event time, and the seeds' examples and bad keys at
`--check-config`."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import subprocess
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, SIDECAR_EXE, SidecarProc, wait_until

from wafermon_testkit.events import event, job_story, new_id

# Four exports side by side: csv, JSON Lines, gzip JSON Lines, pretty JSON.
LAYOUTS = {
    "csv": ("csv", {"rotation": "daily", "include_headers": True, "delimiter": ","}),
    "jsonl": ("json", {"rotation": "daily"}),
    "jsonl-gz": ("json", {"rotation": "daily", "compression": True}),
    "pretty": ("json", {"rotation": "daily", "pretty_print": True}),
}
T0 = datetime(2026, 11, 23, 8, 15, 30, tzinfo=UTC)


def _backends(root: Path, **overrides: Any) -> list[dict[str, Any]]:
    return [
        {"type": kind, "name": name, "enabled": True, "config": {"output_dir": str(root / name), **config, **overrides}}
        for name, (kind, config) in LAYOUTS.items()
    ]


def _mixed_batch() -> list[dict[str, Any]]:
    """Jobs with sub-jobs, a failure, unicode and nested metadata."""
    events = job_story(start=T0, subjobs=2, metadata={"recipe": "R-17", "tool": {"chamber": "C-2", "temps": [21.5]}})
    failed = job_story(start=T0 + timedelta(minutes=1), outcome="failed", site_id="fab-東京", business_key='lot "A", 2')
    failed[-1]["error"]["message"] = "wafer cracked\nat step 3; ünïcödé ✓"
    failed[-1]["metadata"] = {"operator": "Zoë", "notes": {"de": "Größe", "zh": "晶圆"}, "flags": [True, None]}
    return events + failed


def _read_csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode(), newline="")))


def _read_json(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    text = (gzip.decompress(data) if path.suffix == ".gz" else data).decode()
    decoder, records, at = json.JSONDecoder(), [], 0
    while at < len(text):  # a stream of JSON texts (one per line, or pretty ones back to back)
        record, at = decoder.raw_decode(text, at)
        records.append(record)
        while at < len(text) and text[at] == "\n":
            at += 1
    return records


def _records(root: Path, name: str) -> dict[str, list[dict[str, Any]]]:
    """Every file of one export → its records."""
    files = sorted((root / name).iterdir())
    return {p.name: (_read_csv(p) if name == "csv" else _read_json(p)) for p in files}


def _all_ids(root: Path, name: str) -> list[str]:
    return [r["event_id"] for records in _records(root, name).values() for r in records]


def _text(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _check_record(name: str, record: dict[str, Any], sent: dict[str, Any]) -> None:
    """The record against the event that was sent, field by field (CSV cells as text, JSON typed)."""
    metrics, error = sent.get("metrics") or {}, sent.get("error") or {}
    expected = {
        "timestamp": sent["at"],
        "site_id": sent["site_id"],
        "app_name": sent["app"]["name"],
        "entity_type": sent["entity_type"],
        "event_kind": sent["event_kind"],
        "status": sent["status"],
        "duration_s": metrics.get("duration_s"),
        "cpu_user_s": metrics.get("cpu_user_s"),
        "mem_max_mb": metrics.get("mem_max_mb"),
        "event_id": sent["event_id"],
        "entity_id": sent["entity_id"],
        "parent_id": sent["parent_id"],
        "seq": sent["seq"],
        "business_key": sent["business_key"],
        "sub_key": sent["sub_key"],
        "progress": sent.get("progress"),
        "error_type": error.get("type"),
        "error_message": error.get("message"),
        "host": sent["host"],
        "pid": sent["pid"],
    }
    for key, value in expected.items():
        got = record[key]
        assert got == (_text(value) if name == "csv" else value), (name, key, got, value)
    if name == "csv":
        assert json.loads(record["metadata"]) == sent["metadata"]
    else:
        assert record["metadata"] == sent["metadata"]
        assert record["event"] == sent  # the whole event, nothing lost


def _wait_delivered(sc: SidecarProc, timeout: float = 60) -> None:
    wait_until(lambda: all(sc.lag(name) == 0 for name in LAYOUTS), timeout, "every export to catch up")


def test_a_mixed_batch_reads_back_field_by_field_and_a_replay_changes_nothing(
    sidecar: Callable[..., SidecarProc], tmp_path: Path
) -> None:
    out = tmp_path / "exports"
    sc = sidecar(_backends(out))
    events = _mixed_batch()
    assert sc.post(events).status_code == 202
    _wait_delivered(sc)
    by_id = {e["event_id"]: e for e in events}
    for name in LAYOUTS:
        files = _records(out, name)
        assert list(files) == [
            {"csv": "wafer_events_20261123.csv", "jsonl": "wafer_events_20261123.jsonl"}.get(
                name, "wafer_events_20261123.jsonl.gz" if name == "jsonl-gz" else "wafer_events_20261123.json"
            )
        ]
        records = next(iter(files.values()))
        assert [r["event_id"] for r in records] == [e["event_id"] for e in events], name  # all, in order, once
        for record in records:
            _check_record(name, record, by_id[record["event_id"]])
    raw = (out / "csv" / "wafer_events_20261123.csv").read_bytes().decode()
    assert raw.startswith("timestamp,site_id,app_name,") and raw.count("timestamp,site_id") == 1  # header once

    before = {name: sorted((out / name).iterdir()) for name in LAYOUTS}
    snapshot = {p: p.read_bytes() for paths in before.values() for p in paths}
    # A client retry sends the same events again (new spool records, the same event ids) ...
    assert sc.post(events).status_code == 202
    assert sc.post(events[:3]).status_code == 202
    _wait_delivered(sc)
    # ... and a restart forgets everything in memory: the ids come back from the files themselves.
    sc.stop()
    sc.start()
    assert sc.post(events).status_code == 202
    _wait_delivered(sc)
    for name in LAYOUTS:
        assert sorted((out / name).iterdir()) == before[name]
    for path, data in snapshot.items():
        assert path.read_bytes() == data, f"{path} changed on a replay"
    status = sc.health()["backends"]["csv"]
    # every event of the last post was skipped (more when a slow stop left the cursor behind: replays)
    assert status["details"]["skipped_duplicates"] >= len(events) and status["dead_lettered_events"] == 0


def test_hourly_rotation_follows_the_event_time_not_the_clock(
    sidecar: Callable[..., SidecarProc], tmp_path: Path
) -> None:
    out = tmp_path / "exports"
    sc = sidecar(_backends(out, rotation="hourly"))
    late = job_story(start=T0.replace(hour=9, minute=59, second=58), progress_steps=3)  # crosses into 10:00
    early = job_story(start=T0)  # 08:15, sent after the others
    assert sc.post(late + early).status_code == 202
    _wait_delivered(sc)
    for name in LAYOUTS:
        files = _records(out, name)
        hours = {file_name[len("wafer_events_") :][:10]: records for file_name, records in files.items()}
        assert sorted(hours) == ["2026112308", "2026112309", "2026112310"], (name, list(files))
        for hour, records in hours.items():
            assert {r["event_id"] for r in records} == {
                e["event_id"] for e in late + early if e["at"][:13].replace("-", "").replace("T", "") == hour
            }
        assert sum(len(r) for r in files.values()) == len(late + early)


def _torn(name: str, whole: bytes) -> bytes:
    """What a crash mid-append leaves after the whole part: half a row, line, pretty record or gzip member."""
    if name == "jsonl-gz":
        member = gzip.compress(b'{"event_id": "never-finished"}\n' * 50)
        return member[: len(member) // 2]
    return {
        "csv": b'2026-11-23T08:15:30.000001Z,fab1,"half a quoted\ncell',
        "jsonl": b'{"timestamp":"2026-11-23T08:',
    }.get(name, b'{\n  "timestamp": "2026-11-23T08:15:31.000000Z",\n  "site_id": "fa')


def test_a_torn_tail_is_cut_and_the_replay_that_follows_writes_each_event_once(
    sidecar: Callable[..., SidecarProc], tmp_path: Path
) -> None:
    out = tmp_path / "exports"
    first = _mixed_batch()
    sc = sidecar(_backends(out))
    assert sc.post(first).status_code == 202
    _wait_delivered(sc)
    sc.stop()
    # A crash mid-append: the file ends in half a record, and the cursor lags, so the sidecar will
    # deliver events the file already holds again (emulated by posting them anew after the restart).
    for name in LAYOUTS:
        (path,) = (out / name).iterdir()
        whole = path.read_bytes()
        path.write_bytes(whole + _torn(name, whole))
    sc.start()
    second = job_story(start=T0 + timedelta(minutes=5), subjobs=1)
    assert sc.post(first[len(first) // 2 :] + second).status_code == 202
    _wait_delivered(sc)
    for name in LAYOUTS:
        (path,) = (out / name).iterdir()
        ids = _all_ids(out, name)  # reading fails on anything torn
        assert Counter(ids) == Counter(e["event_id"] for e in first + second), name  # nothing lost, none twice
        status = sc.health()["backends"][name]
        assert status["failed_attempts"] == 0 and status["last_error"] is None, status
    assert "cutting a torn tail" in sc.log()


def test_kill_9_mid_stream_then_restart_every_event_exactly_once(
    sidecar: Callable[..., SidecarProc], tmp_path: Path
) -> None:
    out = tmp_path / "exports"
    # small batches so the kill lands between (or inside) many appends
    backends = [dict(b, max_batch_size=20) for b in _backends(out, rotation="hourly")]
    sc = sidecar(backends)
    sent: list[dict[str, Any]] = []
    for minute in range(0, 120, 4):  # two hours of jobs, 30 requests
        story = job_story(start=T0 + timedelta(minutes=minute), subjobs=8, progress_steps=4)
        sent += story
        assert sc.post(story).status_code == 202
    # kill -9 once some, not all, events are in the files
    wait_until(lambda: any((out / n).exists() and any((out / n).iterdir()) for n in LAYOUTS), 60, "first files")
    sc.kill()
    sc.start()
    _wait_delivered(sc, timeout=120)
    assert sc.post(sent[:50]).status_code == 202  # and a client retry on top
    _wait_delivered(sc)
    for name in LAYOUTS:
        assert Counter(_all_ids(out, name)) == Counter(e["event_id"] for e in sent), name


SEED_CSV = {
    "type": "csv",
    "name": "csv-backup",
    "enabled": True,
    "config": {"output_dir": "/var/log/wafer-monitor", "rotation": "daily", "include_headers": True, "delimiter": ","},
}
SEED_JSON = {
    "type": "json",
    "name": "json-export",
    "enabled": True,
    "config": {"output_dir": "/var/log/wafer-monitor", "rotation": "daily", "pretty_print": False, "compression": True},
}
SEED_SCENARIO = [  # the seeds' scenario 1 and 2 entries, and the quick-start "backup"
    {
        "type": "csv",
        "name": "compliance",
        "enabled": True,
        "config": {"output_dir": "/compliance/logs", "rotation": "daily"},
    },
    {
        "type": "json",
        "name": "debug",
        "enabled": True,
        "config": {"output_dir": "./debug-logs", "pretty_print": True, "rotation": "none"},
    },
    {"type": "csv", "name": "backup", "enabled": True, "config": {"output_dir": "/backup", "rotation": "daily"}},
]


def _check_config(tmp_path: Path, backends: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "sidecar.json"
    config.write_text(json.dumps({"spool": {"path": str(tmp_path / "spool")}, "backends": backends}))
    return subprocess.run(
        [SIDECAR_EXE, "--config", str(config), "--check-config"], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize("backends", [[SEED_CSV], [SEED_JSON], SEED_SCENARIO], ids=["csv", "json", "scenarios"])
def test_the_seeds_examples_load_as_written(backends: list[dict[str, Any]], tmp_path: Path) -> None:
    done = _check_config(tmp_path, backends)
    assert done.returncode == 0 and "configuration OK" in done.stdout, done.stderr


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ({**SEED_CSV, "config": {**SEED_CSV["config"], "delimter": ";"}}, "delimter"),
        ({**SEED_CSV, "config": {**SEED_CSV["config"], "rotation": "weekly"}}, "rotation"),
        ({**SEED_JSON, "config": {**SEED_JSON["config"], "compression": "brotli"}}, "compression"),
        ({**SEED_JSON, "config": {"rotation": "daily"}}, "output_dir"),
    ],
)
def test_a_bad_key_fails_check_config_naming_the_backend_and_the_key(
    entry: dict[str, Any], key: str, tmp_path: Path
) -> None:
    done = _check_config(tmp_path, [entry])
    assert done.returncode == 2, done.stdout
    assert f"'{entry['name']}'" in done.stderr and f"config.{key}" in done.stderr, done.stderr


def test_a_disabled_export_writes_nothing(sidecar: Callable[..., SidecarProc], tmp_path: Path) -> None:
    out = tmp_path / "exports"
    backends = _backends(out)
    backends[1]["enabled"] = False
    sc = sidecar(backends)
    assert sc.post([event("started", new_id(), 0, T0)]).status_code == 202
    wait_until(lambda: sc.lag("csv") == 0, 60, "the csv export")
    assert not (out / "jsonl").exists()
    assert sc.health()["backends"]["jsonl"]["state"] == "disabled"


DOC_EXAMPLES = {
    m.group(1): json.loads(m.group(2))
    for m in re.finditer(
        r"<!-- export-example: (\S+) -->\n```json\n(.*?)```", (REPO / "docs" / "sidecar.md").read_text(), re.DOTALL
    )
}


@pytest.mark.parametrize(
    ("kind", "file_name"), [("csv", "wafer_events_20261123.csv"), ("json", "wafer_events_20261123.jsonl.gz")]
)
def test_the_docs_examples_load_and_write_the_documented_files(
    kind: str, file_name: str, sidecar: Callable[..., SidecarProc], tmp_path: Path
) -> None:
    example = DOC_EXAMPLES[kind]
    done = _check_config(tmp_path, example["backends"])  # as written (its output_dir is not touched by a check)
    assert done.returncode == 0, done.stderr
    out = tmp_path / "out"
    backends = [dict(b, config={**b["config"], "output_dir": str(out)}) for b in example["backends"]]
    sc = sidecar(backends)
    events = _mixed_batch()
    assert sc.post(events).status_code == 202
    name = backends[0]["name"]
    wait_until(lambda: sc.lag(name) == 0, 60, f"the {kind} export")
    assert [p.name for p in out.iterdir()] == [file_name]
    records = _read_csv(out / file_name) if kind == "csv" else _read_json(out / file_name)
    by_id = {e["event_id"]: e for e in events}
    assert [r["event_id"] for r in records] == list(by_id)
    for record in records:
        _check_record(kind, record, by_id[record["event_id"]])


def _fill(disk: Path, leave: int) -> Path:
    """A file taking all of the disk's space but `leave` bytes."""
    filler = disk / "filler"
    with open(filler, "wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    size = filler.stat().st_size
    os.truncate(filler, max(size - leave, 0))
    return filler


def test_a_full_disk_mid_append_leaves_whole_rows_and_delivers_everything_once_space_returns(
    sidecar: Callable[..., SidecarProc], tiny_disk: Path
) -> None:
    out = tiny_disk / "csv"
    out.mkdir()
    filler = _fill(tiny_disk, 24 * 1024)
    sc = sidecar([{"type": "csv", "name": "csv", "config": {"output_dir": str(out)}}])
    small = job_story(start=T0)
    assert sc.post(small).status_code == 202
    wait_until(lambda: sc.lag("csv") == 0, 60, "the first rows")
    big = job_story(start=T0 + timedelta(minutes=1), subjobs=60, metadata={"blob": "x" * 2000})  # > 24 KiB
    assert sc.post(big).status_code == 202
    wait_until(lambda: sc.health()["backends"]["csv"]["failed_attempts"] >= 2, 60, "the append to fail")
    (path,) = out.iterdir()
    # between attempts the file holds whole rows only: the failed append was cut back at once
    assert [r["event_id"] for r in _read_csv(path)] == [e["event_id"] for e in small]
    assert path.read_bytes().endswith(b"\r\n")
    assert "No space left" in (sc.health()["backends"]["csv"]["last_error"] or "")
    filler.unlink()
    wait_until(lambda: sc.lag("csv") == 0, 60, "delivery once space returns")
    assert Counter(r["event_id"] for r in _read_csv(path)) == Counter(e["event_id"] for e in small + big)
