"""filesystem backend: what it writes stays readable record by record.

- A CSV field holding a carriage return alone (no newline) is quoted: a CSV reader ends a row at a
  bare `\\r` as at `\\n`, so unquoted it would split the row in two.
- A write that fails part-way (a real full disk: a 1 MiB tmpfs) leaves no torn record behind: the file
  is cut back to its last whole record at once, and the retried batch lands once space returns.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import SidecarProc, make_events, wait_until

from wafermon_sidecar.backends.filesystem import CSV_COLUMNS


def _failed_event(message: str) -> dict[str, Any]:
    (event,) = [e for e in make_events(14) if e.get("error")][:1]
    event["error"]["message"] = message
    return event


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.mark.parametrize(
    "breaking",
    ["\r", "a\rb", "ends with\r", "\r\n", "\n\r", "x\r\ry"],
    ids=["cr-alone", "cr-inside", "cr-at-end", "crlf", "lfcr", "two-cr"],
)
def test_a_csv_field_holding_a_carriage_return_reads_back_as_one_field(
    breaking: str, sidecar: Callable[..., SidecarProc], tmp_path: Path
) -> None:
    out = tmp_path / "files"
    sc = sidecar(
        [{"type": "filesystem", "name": "files", "config": {"path": str(out), "format": "csv", "rotation": "none"}}]
    )
    events = [*make_events(2), _failed_event(breaking), *make_events(2)]
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("files") == 0, 60, "delivery to the csv file")
    rows = _csv_rows(out / "wafermon-events.csv")
    assert rows[0] == CSV_COLUMNS
    assert [r[0] for r in rows[1:]] == [e["event_id"] for e in events]  # one row per event, none split
    assert all(len(r) == len(CSV_COLUMNS) for r in rows)
    assert rows[3][CSV_COLUMNS.index("error_message")] == breaking


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
    os.truncate(filler, max(filler.stat().st_size - leave, 0))
    return filler


def _read_records(path: Path, fmt: str) -> list[str]:
    """The event ids of the file's records; fails on a torn or partial record anywhere."""
    data = path.read_bytes()
    if fmt == "jsonl":
        assert data.endswith(b"\n"), data[-80:]
        return [json.loads(line)["event_id"] for line in data.splitlines()]
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    assert rows[0] == CSV_COLUMNS and data.endswith(b"\n"), data[-80:]
    assert all(len(r) == len(CSV_COLUMNS) for r in rows), [len(r) for r in rows]
    return [r[0] for r in rows[1:]]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_full_disk_mid_write_leaves_no_torn_record_and_everything_lands_once_when_space_returns(
    fmt: str, sidecar: Callable[..., SidecarProc], tiny_disk: Path
) -> None:
    out = tiny_disk / "files"
    out.mkdir()
    filler = _fill(tiny_disk, 24 * 1024)
    sc = sidecar(
        [{"type": "filesystem", "name": "files", "config": {"path": str(out), "format": fmt, "rotation": "none"}}]
    )
    small = make_events(3)
    assert sc.post(small).status_code == 202
    wait_until(lambda: sc.lag("files") == 0, 60, "the first records")
    big = make_events(40, metadata={"blob": "x" * 2000})  # > 24 KiB: the write runs out of space part-way
    assert sc.post(big).status_code == 202
    wait_until(lambda: sc.health()["backends"]["files"]["failed_attempts"] >= 2, 60, "the write to fail")
    (path,) = out.iterdir()
    # between attempts the file holds whole records only: the failed write was cut back at once
    assert _read_records(path, fmt) == [e["event_id"] for e in small]
    assert "No space left" in (sc.health()["backends"]["files"]["last_error"] or "")
    filler.unlink()
    wait_until(lambda: sc.lag("files") == 0, 60, "delivery once space returns")
    assert Counter(_read_records(path, fmt)) == Counter(e["event_id"] for e in small + big)
