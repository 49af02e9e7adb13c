"""The csv and json exports against conformance/backends/{csv,json}-vectors.json (event in → record out,
file names by event time), and their config errors, in-process: the backends' own encode and file code
on real files in a temp directory."""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st

from wafermon_sidecar.backends import ConfigurationError, PermanentError
from wafermon_sidecar.backends.base import Batch
from wafermon_sidecar.backends.csv_export import CsvBackend
from wafermon_sidecar.backends.export_record import flat_record, flat_values
from wafermon_sidecar.backends.file_export import period_stamp
from wafermon_sidecar.backends.json_export import JsonBackend

VECTORS = REPO / "conformance" / "backends"
CSV_VECTORS: dict[str, Any] = json.loads((VECTORS / "csv-vectors.json").read_text())
JSON_VECTORS: dict[str, Any] = json.loads((VECTORS / "json-vectors.json").read_text())


def _send(backend: CsvBackend | JsonBackend, events: list[dict[str, Any]]) -> None:
    async def run() -> None:
        await backend.initialize()
        await backend.send_batch(Batch([json.dumps(e).encode() for e in events]))

    asyncio.run(run())


def _csv_rows(path: Path, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode(), newline=""), delimiter=delimiter))


@pytest.mark.parametrize("vector", CSV_VECTORS["vectors"], ids=lambda v: v["description"][:40])
def test_csv_vector(vector: dict[str, Any], tmp_path: Path) -> None:
    backend = CsvBackend("csv", {"output_dir": str(tmp_path), "rotation": "none"})
    _send(backend, [vector["input"]])
    path = tmp_path / "wafer_events.csv"
    header, row = _csv_rows(path)
    assert header == CSV_VECTORS["columns"]
    got = dict(zip(header, row, strict=True))
    for column, expected in vector["expected"].items():
        assert got[column] == expected, column
    if "line" in vector:  # the exact bytes, quoting included
        assert path.read_bytes().decode().split("\r\n", 1)[1] == vector["line"]


@pytest.mark.parametrize("pretty", [False, True])
@pytest.mark.parametrize("vector", JSON_VECTORS["vectors"], ids=lambda v: v["description"][:40])
def test_json_vector(vector: dict[str, Any], pretty: bool, tmp_path: Path) -> None:
    backend = JsonBackend("json", {"output_dir": str(tmp_path), "rotation": "none", "pretty_print": pretty})
    _send(backend, [vector["input"]])
    text = (tmp_path / ("wafer_events.json" if pretty else "wafer_events.jsonl")).read_text(encoding="utf-8")
    assert text.endswith("\n}\n" if pretty else "}\n") and text.count("\n") > (1 if pretty else 0) * 10
    if not pretty:
        assert text.count("\n") == 1  # one line per record
    record = json.loads(text)
    assert list(record) == JSON_VECTORS["keys"]
    for key, expected in vector["expected"].items():
        assert record[key] == expected, key
        assert type(record[key]) is type(expected), key  # 2048.0 stays a float, 3 an integer
    assert "ü" in text or "ü" not in json.dumps(vector["input"], ensure_ascii=False)  # unicode is not escaped


@pytest.mark.parametrize("case", CSV_VECTORS["naming"], ids=lambda c: f"{c['rotation']}-{c['at']}")
def test_file_names_follow_the_event_time(case: dict[str, str], tmp_path: Path) -> None:
    event = dict(CSV_VECTORS["vectors"][0]["input"], at=case["at"])
    csv_dir, json_dir = tmp_path / "csv", tmp_path / "json"
    _send(CsvBackend("c", {"output_dir": str(csv_dir), "rotation": case["rotation"]}), [event])
    assert [p.name for p in csv_dir.iterdir()] == [case["file"]]
    json_case = next(c for c in JSON_VECTORS["naming"] if c["at"] == case["at"] and c["rotation"] == case["rotation"])
    for layout, config in (
        ("jsonl", {}),
        ("jsonl gzip", {"compression": "gzip"}),
        ("pretty_print", {"pretty_print": True}),
    ):
        out = json_dir / layout.replace(" ", "-")
        _send(JsonBackend("j", {"output_dir": str(out), "rotation": case["rotation"], **config}), [event])
        assert [p.name for p in out.iterdir()] == [json_case["files"][layout]]


@pytest.mark.parametrize("at", ["2026-11-23 08:15:30Z", "../../etc/passwd-ab-cdTxx:00:00.000000Z", "", None, 17])
def test_an_event_without_a_usable_time_is_refused_alone(at: object, tmp_path: Path) -> None:
    good = CSV_VECTORS["vectors"][0]["input"]
    bad = dict(CSV_VECTORS["vectors"][1]["input"], at=at)
    backend = CsvBackend("c", {"output_dir": str(tmp_path), "rotation": "daily"})
    with pytest.raises(PermanentError) as refused:
        _send(backend, [bad, good])
    assert list(refused.value.rejected) == [0] and "`at`" in refused.value.rejected[0]
    assert [p.name for p in tmp_path.iterdir()] == ["wafer_events_20261123.csv"]  # the good one is written
    assert period_stamp(at, "none") is None


@pytest.mark.parametrize(
    ("cls", "config", "key"),
    [
        (CsvBackend, {"output_dir": "/x", "colour": "red"}, "colour"),
        (CsvBackend, {"output_dir": "/x", "rotation": "weekly"}, "rotation"),
        (CsvBackend, {"output_dir": "/x", "delimiter": ";;"}, "delimiter"),
        (CsvBackend, {"output_dir": "/x", "delimiter": '"'}, "delimiter"),
        (CsvBackend, {"output_dir": "/x", "include_headers": "maybe"}, "include_headers"),
        (CsvBackend, {"rotation": "daily"}, "output_dir"),
        (CsvBackend, {"output_dir": ""}, "output_dir"),
        (JsonBackend, {"output_dir": "/x", "compression": "zstd"}, "compression"),
        (JsonBackend, {"output_dir": "/x", "pretty_print": "yes please"}, "pretty_print"),
        (JsonBackend, {"output_dir": "/x", "indent": 2}, "indent"),
        (JsonBackend, {"output_dir": "/x", "dedup_window": -1}, "dedup_window"),
    ],
)
def test_a_bad_key_is_named_with_the_backend(
    cls: type[CsvBackend | JsonBackend], config: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigurationError) as error:
        cls("my-export", config)
    message = str(error.value)
    assert "'my-export'" in message and f"config.{key}" in message, message


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=60, deadline=None)
@given(
    texts=st.lists(st.tuples(_text, _text, _text), min_size=1, max_size=6),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
    cut=st.integers(min_value=0, max_value=10_000),
)
def test_csv_any_text_round_trips_and_any_torn_tail_is_cut(
    texts: list[tuple[str, str, str]], delimiter: str, cut: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Whatever the text (quotes, delimiters, line breaks, unicode), a row reads back as written; a file cut
    anywhere (a crash mid-append) holds whole rows only after the next append, and none twice."""
    out = tmp_path_factory.mktemp("csv")
    base = CSV_VECTORS["vectors"][2]["input"]
    events = []
    for i, (key, message, meta) in enumerate(texts):
        event = json.loads(json.dumps(base))
        event["event_id"] = f"id-{i}"
        event["business_key"], event["error"]["message"], event["metadata"] = key, message, {"m": meta}
        events.append(event)
    config = {"output_dir": str(out), "rotation": "none", "delimiter": delimiter}
    _send(CsvBackend("c", config), events)
    path = out / "wafer_events.csv"
    rows = _csv_rows(path, delimiter)
    assert [(r[13], r[20], json.loads(r[27])["m"]) for r in rows[1:]] == texts
    data = path.read_bytes()
    path.write_bytes(data[: cut % (len(data) + 1)])
    _send(CsvBackend("c", config), events)  # a restarted backend meets the torn file and the replay
    rows = _csv_rows(path, delimiter)
    assert rows[0] == CSV_VECTORS["columns"]
    assert sorted(r[9] for r in rows[1:]) == sorted(e["event_id"] for e in events)  # each once, all whole
    assert all(len(r) == len(CSV_VECTORS["columns"]) for r in rows)


@pytest.mark.parametrize("vector", CSV_VECTORS["vectors"], ids=lambda v: v["description"][:40])
@pytest.mark.parametrize(
    "damage",
    [{}, {"metrics": None}, {"app": "not an object"}, {"error": []}, {"trace": None, "sdk": 3}, {"metadata": None}],
    ids=["as-is", "null-metrics", "string-app", "list-error", "odd-sdk-trace", "null-metadata"],
)
def test_the_fast_path_from_bytes_matches_the_general_one(vector: dict[str, Any], damage: dict[str, Any]) -> None:
    """flat_values (one typed decode of the spool's bytes) gives what flat_record gives for the decoded
    event, also for shapes validation would refuse (a backend never crashes on them)."""
    event = {**vector["input"], **damage}
    raw = json.dumps(event, ensure_ascii=False).encode()
    assert flat_values(raw) == list(flat_record(event).values())
    assert flat_values(b"[1, 2]") is None and flat_values(b"{torn") is None


def test_an_output_dir_removed_while_running_is_made_again(tmp_path: Path) -> None:
    out = tmp_path / "exports"
    backend = CsvBackend("c", {"output_dir": str(out), "rotation": "none"})
    _send(backend, [CSV_VECTORS["vectors"][0]["input"]])
    (out / "wafer_events.csv").unlink()
    out.rmdir()  # e.g. a clean-up job; initialize (which makes it) is not called again
    asyncio.run(backend.send_batch(Batch([json.dumps(CSV_VECTORS["vectors"][1]["input"]).encode()])))
    rows = _csv_rows(out / "wafer_events.csv")
    assert rows[0] == CSV_VECTORS["columns"] and [r[9] for r in rows[1:]] == [
        CSV_VECTORS["vectors"][1]["input"]["event_id"]
    ]


def test_a_csv_file_the_reader_cannot_finish_still_takes_appends(tmp_path: Path) -> None:
    """A row with a cell over the csv module's field limit (not one this backend writes: events are at
    most 96 KiB) stops the read-back of ids there, with a warning, instead of failing every append."""
    columns = ",".join(CSV_VECTORS["columns"])
    known = CSV_VECTORS["vectors"][0]["input"]
    first = CSV_VECTORS["vectors"][0]["line"]
    (tmp_path / "wafer_events.csv").write_text(f'{columns}\r\n{first}x,"{"y" * 200_000}"\r\n', newline="")
    backend = CsvBackend("c", {"output_dir": str(tmp_path), "rotation": "none"})
    _send(backend, [known, CSV_VECTORS["vectors"][1]["input"]])  # the known one is skipped, the other written
    assert backend.skipped_duplicates == 1
    data = (tmp_path / "wafer_events.csv").read_bytes().decode()
    assert data.count(known["event_id"]) == 1 and data.count(CSV_VECTORS["vectors"][1]["input"]["event_id"]) == 1


@settings(max_examples=40, deadline=None)
@given(
    layout=st.sampled_from(
        [{}, {"pretty_print": True}, {"compression": "gzip"}, {"pretty_print": True, "compression": True}]
    ),
    texts=st.lists(_text, min_size=1, max_size=5),
    cut=st.integers(min_value=0, max_value=100_000),
)
def test_json_any_torn_tail_is_cut_and_the_replay_writes_each_record_once(
    layout: dict[str, Any], texts: list[str], cut: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    out = tmp_path_factory.mktemp("json")
    events = []
    for i, text in enumerate(texts):
        event = json.loads(json.dumps(JSON_VECTORS["vectors"][2]["input"]))
        event["event_id"], event["metadata"] = f"id-{i}", {"text": text, "nested": {"t": [text]}}
        events.append(event)
    config = {"output_dir": str(out), "rotation": "none", **layout}
    _send(JsonBackend("j", config), events[: len(events) // 2 + 1])
    (path,) = out.iterdir()
    data = path.read_bytes()
    path.write_bytes(data[: cut % (len(data) + 1)])  # a crash anywhere in the last append
    _send(JsonBackend("j", config), events)  # restarted: the torn tail, then a replay of everything
    raw = path.read_bytes()
    text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode()
    decoder, records, at = json.JSONDecoder(), [], 0
    while at < len(text):
        record, at = decoder.raw_decode(text, at)
        records.append(record)
        assert text[at] == "\n"
        at += 1
    assert sorted(r["event_id"] for r in records) == sorted(e["event_id"] for e in events)
    assert all(r["event"] == events[int(r["event_id"][3:])] for r in records)
