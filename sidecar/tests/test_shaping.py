"""The shaping pipeline's parts (shaping.py, transforms.py): fields, rename, the hook's outcomes, the
start-up checks that keep a backend's identity fields, and batches that keep their spool positions."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from conftest import make_events

from wafermon_sidecar.backends.base import Batch
from wafermon_sidecar.backends.elasticsearch import ElasticsearchBackend
from wafermon_sidecar.backends.filesystem import FilesystemBackend
from wafermon_sidecar.backends.managed_api import ManagedApiBackend
from wafermon_sidecar.config import BackendSettings, ConfigError, build_settings
from wafermon_sidecar.shaping import Shaper, build_shaper
from wafermon_sidecar.transforms import Projection, Renames, parse_path, parse_rename

EVENT: dict[str, Any] = {
    "event_id": "e1",
    "at": "2026-12-01T00:00:00.000000Z",
    "app": {"name": "etl", "version": "1"},
    "metadata": {"lot": "L1", "deep": {"x": 1}},
    "status": "failed",
}


def _settings(**keys: Any) -> BackendSettings:
    return BackendSettings(type="filesystem", name="out", **keys)


def test_fields_keep_only_the_listed_paths() -> None:
    keep = Projection([parse_path(p, "f") for p in ("event_id", "app.name", "metadata.deep", "metadata.missing")])
    assert keep(EVENT) == {"event_id": "e1", "app": {"name": "etl"}, "metadata": {"deep": {"x": 1}}}
    whole = Projection([parse_path(p, "f") for p in ("app.name", "app")])
    assert whole(EVENT) == {"app": EVENT["app"]}
    assert Projection([("status", "x")])(EVENT) == {}  # a path through a string keeps nothing
    flat = Projection([("status",), ("event_id",), ("nope",)])  # top-level keys only: the fast form
    assert flat.flat is not None and flat(EVENT) == {"status": "failed", "event_id": "e1"}


def test_rename_moves_values_and_swaps() -> None:
    record = json.loads(json.dumps(EVENT))
    moved = Renames(parse_rename({"at": "timestamp", "app.name": "app_name", "metadata.lot": "lot.id"}, "r"))(record)
    assert moved["timestamp"] == EVENT["at"] and "at" not in moved
    assert moved["app_name"] == "etl" and moved["app"] == {"version": "1"}
    assert moved["lot"] == {"id": "L1"} and moved["metadata"] == {"deep": {"x": 1}}
    swapped = Renames(parse_rename({"at": "status", "status": "at"}, "r"))(json.loads(json.dumps(EVENT)))
    assert swapped["at"] == "failed" and swapped["status"] == EVENT["at"]
    assert Renames(parse_rename({"nope": "x"}, "r"))({"a": 1}) == {"a": 1}  # an absent path: nothing moves
    emptied = Renames(parse_rename({"a.b.c": "c", "a.d": "d"}, "r"))({"a": {"b": {"c": 1}, "d": 2}, "e": {}})
    assert emptied == {"c": 1, "d": 2, "e": {}}  # objects left empty by a move go; others stay


@pytest.mark.parametrize(
    ("rename", "key", "words"),
    [
        ({"a": "x", "b": "x"}, "backends[out].rename.b", "collides"),
        ({"a": "x", "b": "x.y"}, "backends[out].rename.b", "collides"),
        ({"a": ""}, "backends[out].rename.a", "not a field path"),
        ({"a..b": "c"}, "backends[out].rename.a..b", "not a field path"),
    ],
)
def test_bad_renames_name_the_key(rename: dict[str, str], key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build_shaper(_settings(rename=rename), FilesystemBackend)
    assert caught.value.key == key and words in str(caught.value)


@pytest.mark.parametrize(
    ("keys", "backend", "key", "words"),
    [
        ({"fields": ["at", "status"]}, ElasticsearchBackend, "backends[out].fields", "must list event_id"),
        ({"fields": ["event_id.x"]}, FilesystemBackend, "backends[out].fields", "must list event_id"),
        ({"rename": {"event_id": "id"}}, FilesystemBackend, "backends[out].rename.event_id", "may not move event_id"),
        ({"rename": {"at": "event_id"}}, FilesystemBackend, "backends[out].rename.at", "may not write over event_id"),
        ({"fields": ["event_id"]}, ManagedApiBackend, "backends[out].fields", "whole v1 events"),
        ({"rename": {"at": "t"}}, ManagedApiBackend, "backends[out].rename", "whole v1 events"),
        ({"transform": "x"}, ManagedApiBackend, "backends[out].transform", "whole v1 events"),
        ({"transform": "no-such-hook"}, FilesystemBackend, "backends[out].transform", "no transform 'no-such-hook'"),
        ({"fields": []}, FilesystemBackend, "backends[out].fields", "non-empty list"),
        ({"fields": "event_id"}, FilesystemBackend, "backends[out].fields", "non-empty list"),
    ],
)
def test_start_up_refuses_a_pipeline_the_backend_cannot_take(
    keys: dict[str, Any], backend: type, key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        build_shaper(_settings(**keys), backend)
    assert caught.value.key == key and words in str(caught.value), str(caught.value)


def test_managed_api_takes_a_filter_and_no_pipeline_means_none() -> None:
    assert build_shaper(_settings(filter={"status": "failed"}), ManagedApiBackend) is not None
    assert build_shaper(_settings(), FilesystemBackend) is None


def test_the_settings_loader_checks_the_grammar_naming_the_backend() -> None:
    doc = {"backends": [{"type": "filesystem", "name": "out", "filter": {"any": [{"status": "ok"}]}}]}
    with pytest.raises(ConfigError, match=r"backends\[out\]\.filter\.any\[0\]\.status: 'ok' is not one of"):
        build_settings(doc, environ={})


def _shaper(hook: Any = None, **keys: Any) -> Shaper:
    shaper = build_shaper(_settings(**keys), FilesystemBackend)
    if hook is not None:
        shaper = Shaper(shaper.filter if shaper else None, hook, "t", None, None, frozenset({"event_id"}), "fs")
    assert shaper is not None
    return shaper


def test_filter_only_keeps_the_spooled_bytes() -> None:
    events = make_events(6)
    events[1]["status"] = events[4]["status"] = "failed"
    raw = [msgspec.json.encode(e) for e in events]
    shaped = _shaper(filter={"not": {"status": "failed"}}).shape(raw, 100)
    assert shaped.raw == [raw[0], raw[2], raw[3], raw[5]]  # the very bytes, not re-encoded
    assert shaped.seqs == [100, 102, 103, 105] and shaped.filtered == [101, 104] and not shaped.dead
    assert shaped.decoded is None


def test_hook_outcomes_each_cost_one_event() -> None:
    def hook(event: dict[str, Any]) -> Any:
        action = event["metadata"].get("do")
        if action == "raise":
            raise ValueError("bad lot")
        if action == "drop":
            return None
        if action == "int":
            return 42
        if action == "lose-id":
            return {"x": 1}
        if action == "not-json":
            return {"event_id": event["event_id"], "x": object()}
        return {"event_id": event["event_id"], "seen": True}

    actions = ["raise", None, "drop", "int", "lose-id", "not-json", None]
    events = make_events(len(actions))
    for event, action in zip(events, actions, strict=True):
        event["metadata"] = {"do": action} if action else {}
    shaped = _shaper(hook).shape([msgspec.json.encode(e) for e in events], 0)
    assert shaped.seqs == [1, 6] and shaped.filtered == [2]
    assert [json.loads(r) for r in shaped.raw] == shaped.decoded
    assert shaped.decoded == [{"event_id": events[i]["event_id"], "seen": True} for i in (1, 6)]
    reasons = dict(shaped.dead)
    assert sorted(reasons) == [0, 3, 4, 5]
    assert reasons[0] == "transform 't' raised ValueError: bad lot"
    assert reasons[3] == "transform 't' returned int, not a dict or None"
    assert "without event_id" in reasons[4] and "not JSON" in reasons[5]


def test_batches_keep_their_spool_positions_when_split() -> None:
    raw = [msgspec.json.encode({"event_id": str(i), "pad": "x" * 50}) for i in range(7)]
    seqs = [3, 5, 6, 9, 10, 11, 20]
    decoded = [json.loads(r) for r in raw]
    batch = Batch(raw, 0, seqs=seqs, decoded=decoded)
    assert batch.first_seq == 3 and [batch.seq_of(i) for i in range(7)] == seqs
    parts = batch.split(3, 10_000)
    assert [p.first_seq for p in parts] == [3, 9, 20]
    assert [p.seq_of(i) for p in parts for i in range(len(p))] == seqs
    assert [e for p in parts for e in p.events()] == decoded
    left, right = batch.halves()
    assert (left.first_seq, right.first_seq, right.seq_of(3)) == (3, 9, 20)
    plain = Batch.from_blocks([b"\n".join(raw)], 7, 40)
    assert [p.seq_of(0) for p in plain.split(2, 10_000)] == [40, 42, 44, 46]
