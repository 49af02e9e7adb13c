"""filesystem backend after a crash mid-append: the torn tail of the file (half a JSON line, half a CSV
row, half a gzip member) is cut before the first write of the restarted sidecar, that first write
succeeds, and the file then holds whole records only (the torn batch is delivered again whole)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import SidecarProc, make_events, wait_until

from wafermon_sidecar.backends import torn_tail


def _torn_file(tmp_path: Path, name: str, whole: bytes, torn: bytes) -> tuple[Path, Path]:
    """The backend's directory and its file `name` as a crash mid-append leaves it: whole, then torn."""
    out = tmp_path / "files"
    out.mkdir()
    target = out / name
    target.write_bytes(whole + torn)
    return out, target


def _ndjson(events: list[dict[str, object]]) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


def _deliver(sidecar: Callable[..., SidecarProc], out: Path, **config: str) -> tuple[SidecarProc, list[str]]:
    sc = sidecar([{"type": "filesystem", "name": "files", "config": {"path": str(out), "rotation": "none", **config}}])
    events = make_events(12)
    assert sc.post(events).status_code == 202
    wait_until(lambda: sc.lag("files") == 0, 30, "delivery to the file")
    status = sc.health()["backends"]["files"]
    # the first delivery after the start is the one that meets the torn tail: it must not fail
    assert status["failed_attempts"] == 0 and status["last_error"] is None, status
    return sc, [e["event_id"] for e in events]


def test_a_torn_json_line_is_cut_and_the_first_delivery_succeeds(
    sidecar: Callable[..., SidecarProc], tmp_path: Path
) -> None:
    before = make_events(3)
    whole = _ndjson(before)
    out, target = _torn_file(tmp_path, "wafermon-events.jsonl", whole, b'{"event_id":"torn-half-li')
    _, ids = _deliver(sidecar, out)
    lines = target.read_bytes().split(b"\n")
    assert lines[-1] == b""  # ends on a newline
    parsed = [json.loads(line) for line in lines[:-1]]  # every line is a whole event
    assert [e["event_id"] for e in parsed] == [e["event_id"] for e in before] + ids
    assert target.read_bytes().startswith(whole)  # what was whole before the crash is untouched


def test_a_torn_csv_row_with_an_open_quote_is_cut(sidecar: Callable[..., SidecarProc], tmp_path: Path) -> None:
    # a whole header and row whose quoted field holds a newline, then a row torn inside a quoted field
    whole = b'event_id,error_message\nold-1,"two\nlines"\n'
    out, target = _torn_file(tmp_path, "wafermon-events.csv", whole, b'old-2,"torn in the mid')
    _, ids = _deliver(sidecar, out, format="csv")
    data = target.read_bytes()
    assert data.startswith(whole)
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert [r[0] for r in rows] == ["event_id", "old-1", *ids]  # no header again: the file was not new
    assert rows[1][1] == "two\nlines"


def test_a_torn_gzip_member_is_cut_so_later_members_stay_readable(
    sidecar: Callable[..., SidecarProc], tmp_path: Path
) -> None:
    before = make_events(2)
    whole = gzip.compress(_ndjson(before))
    torn = gzip.compress(_ndjson(make_events(5)))
    out, target = _torn_file(tmp_path, "wafermon-events.jsonl.gz", whole, torn[: len(torn) // 2])
    _, ids = _deliver(sidecar, out, compression="gzip")
    data = target.read_bytes()
    assert data.startswith(whole)
    text = gzip.decompress(data)  # raises on a torn member anywhere in the stream
    assert [json.loads(x)["event_id"] for x in text.splitlines()] == [e["event_id"] for e in before] + ids
    assert zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[: len(whole)])  # sanity: first member intact


def test_intact_lengths_across_read_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scans read in chunks; a row, line or member crossing a chunk edge is judged the same."""
    monkeypatch.setattr(torn_tail, "CHUNK", 7)
    cases: list[tuple[Callable[[int, int], int | None], bytes, int]] = [
        (torn_tail.jsonl_intact_length, b'{"a":1}\n{"b":22}\n{"c":', 17),
        (torn_tail.jsonl_intact_length, b'{"torn from the start', 0),
        (torn_tail.csv_intact_length, b'a,"x\ny\nz"\nb,"q""\nr"\nc,"open\n', 20),
        (torn_tail.csv_intact_length, b"a,b\n", 4),
    ]
    member = gzip.compress(b"x" * 100)
    cases += [
        (torn_tail.gzip_intact_length, member * 2 + member[:9], 2 * len(member)),
        (torn_tail.gzip_intact_length, b"not gzip at all", None),
    ]
    for scan, data, expected in cases:
        path = tmp_path / "f"
        path.write_bytes(data)
        fd = os.open(path, os.O_RDONLY)
        try:
            assert scan(fd, len(data)) == expected, (scan.__name__, data)
        finally:
            os.close(fd)
