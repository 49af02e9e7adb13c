"""The loki backend's record shape against conformance/backends/loki (the vectors), its batching as a
property, the backend's split bound, and the strictness of the Loki PROTOCOL DOUBLE itself (a double
that accepted anything would prove nothing)."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest
import rfc8785
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st

from wafermon_sidecar.backends.base import Batch, PermanentError
from wafermon_sidecar.backends.loki import SPLIT_REQUESTS_PER_BATCH, LokiBackend
from wafermon_sidecar.backends.loki_encoding import Entry, entry, push_body, pushes
from wafermon_testkit.events import event, new_id
from wafermon_testkit.loki_double import PUSH_PATH, LokiDouble

SPEC = REPO / "conformance" / "backends" / "loki"
VECTORS = sorted((SPEC / "vectors").glob("*.json"))
VECTOR_SCHEMA = json.loads((SPEC / "vector.schema.json").read_text())


def test_there_are_vectors_and_the_spec_names_them() -> None:
    assert len(VECTORS) >= 6
    assert "loki/vectors/" in (SPEC.parent / "loki.md").read_text()


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.stem)
def test_loki_vector(path: Path) -> None:
    vector = json.loads(path.read_text())
    jsonschema.validate(vector, VECTOR_SCHEMA)
    config = vector["config"]
    raws = [msgspec.json.encode(e) for e in vector["events"]]
    entries = [entry(raw, i, config.get("external_labels", {})) for i, raw in enumerate(raws)]
    produced = [json.loads(push_body(p)) for p in pushes(entries, config.get("max_push_bytes", 1024 * 1024))]
    assert produced == vector["expected"]["pushes"]
    # The lines against an independent RFC 8785 implementation (where JCS can express the event).
    lines = {value[1] for push in produced for stream in push["streams"] for value in stream["values"]}
    for event_ in vector["events"]:
        try:
            assert rfc8785.dumps(event_).decode() in lines
        except rfc8785.IntegerDomainError:
            assert "1152921504606846976" in next(line for line in lines if event_["event_id"] in line)


def test_the_same_event_encoded_differently_gives_the_same_entry() -> None:
    one = event("finished", new_id(), 3, datetime(2026, 11, 30, 12, tzinfo=UTC))
    pretty = json.dumps(one, indent=2, sort_keys=False).encode()
    reordered = json.dumps(dict(reversed(list(one.items())))).encode()
    a, b, c = (entry(raw, 0, {}) for raw in (msgspec.json.encode(one), pretty, reordered))
    assert a == b == c


stamps = st.integers(min_value=1_700_000_000_000_000, max_value=1_700_000_010_000_000)  # microseconds


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(st.tuples(stamps, st.sampled_from(["a", "b", "c"]), st.integers(0, 600)), min_size=1, max_size=60),
    limit=st.integers(min_value=1024, max_value=6000),
)
def test_pushes_keep_every_stream_in_time_order_and_under_the_limit(
    items: list[tuple[int, str, int]], limit: int
) -> None:
    raws = []
    for micros, site, pad in items:
        seconds, rest = divmod(micros, 1_000_000)
        moment = datetime.fromtimestamp(seconds, UTC)
        body = event("progress", new_id(), 1, moment.replace(microsecond=rest), site_id=site, metadata={"p": "x" * pad})
        raws.append(msgspec.json.encode(body))
    entries = [entry(raw, i, {}) for i, raw in enumerate(raws)]
    result = pushes(entries, limit)
    assert sorted(e.index for push in result for e in push) == list(range(len(raws)))
    newest: dict[bytes, int] = {}
    for push in result:
        body = push_body(push)
        assert len(body) <= limit or len(push) == 1
        for stream in json.loads(body)["streams"]:
            key = json.dumps(stream["stream"], sort_keys=True).encode()
            times = [int(v[0]) for v in stream["values"]]
            assert times == sorted(times)
            assert times[0] >= newest.get(key, 0)
            newest[key] = times[-1]


# --- the double's strictness, over real HTTP -------------------------------------------------------


@pytest.fixture
def loki(tmp_path: Path) -> Iterator[LokiDouble]:
    with LokiDouble(tmp_path / "store.jsonl", tenant_required=True, max_line_bytes=300) as double:
        yield double


def push(double: LokiDouble, body: Any, headers: dict[str, str] | None = None) -> tuple[int, str]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json", "X-Scope-OrgID": "t1", **(headers or {})}
    request = urllib.request.Request(double.url + PUSH_PATH, data=data, headers=all_headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


NOW = str(time.time_ns())
LATER = str(int(NOW) + 1000)


@pytest.mark.parametrize(
    ("body", "headers", "status", "stored"),
    [
        ({"streams": [{"stream": {"a": "b"}, "values": [[NOW, "x"]]}]}, {}, 204, 1),
        ({"streams": [{"stream": {"a": "b"}, "values": [[int(NOW), "x"]]}]}, {}, 400, 0),  # number timestamp
        ({"streams": [{"stream": {"a": "b"}, "values": [["1.5e18", "x"]]}]}, {}, 400, 0),
        ({"streams": [{"stream": {"a": "b"}, "values": [[NOW, "x"]]}], "extra": 1}, {}, 400, 0),
        ({"streams": [{"labels": '{a="b"}', "values": [[NOW, "x"]]}]}, {}, 400, 0),
        ({"streams": [{"stream": {"a-b": "c"}, "values": [[NOW, "x"]]}]}, {}, 400, 0),  # not a label name
        ({"streams": [{"stream": {"__a": "c"}, "values": [[NOW, "x"]]}]}, {}, 400, 0),
        ({"streams": [{"stream": {}, "values": [[NOW, "x"]]}]}, {}, 400, 0),
        ({"streams": [{"stream": {"a": ""}, "values": [[NOW, "x"]]}]}, {}, 400, 0),
        ({"streams": [{"stream": {"a": "b"}, "values": [[LATER, "x"], [NOW, "y"]]}]}, {}, 400, 1),  # out of order
        ({"streams": [{"stream": {"a": "b"}, "values": [[NOW, "x" * 301]]}]}, {}, 400, 0),  # line too long
        ({"streams": [{"stream": {"a": "b"}, "values": [["1000", "x"]]}]}, {}, 400, 0),  # too old
        ({"streams": [{"stream": {"a": "b"}, "values": [[NOW, "x"]]}]}, {"X-Scope-OrgID": ""}, 401, 0),
        ({"streams": [{"stream": {"a": "b"}, "values": [[NOW, "x"]]}]}, {"X-Scope-OrgID": "a|b"}, 400, 0),
        ({"streams": [{"stream": {"a": "b"}, "values": [[NOW, "x"]]}]}, {"Content-Type": "text/plain"}, 400, 0),
        ({"streams": [{"stream": {"a": "b"}, "values": [[NOW, "x"]]}]}, {"Content-Encoding": "br"}, 415, 0),
        (b"{not json", {}, 400, 0),
    ],
)
def test_the_double_is_strict_about_the_push_format(
    loki: LokiDouble, body: Any, headers: dict[str, str], status: int, stored: int
) -> None:
    got, text = push(loki, body, headers)
    assert got == status, text
    assert len(loki.entries()) == stored  # like Loki, the good entries of a 400 are kept


def test_the_double_stores_the_good_entries_of_a_400_and_deduplicates(loki: LokiDouble) -> None:
    good = [[NOW, "a"], [LATER, "b"]]
    status, text = push(loki, {"streams": [{"stream": {"a": "b"}, "values": [good[0], [NOW, "z" * 400], good[1]]}]})
    assert status == 400 and "total ignored: 1 out of 3" in text
    assert [e["line"] for e in loki.entries()] == ["a", "b"]
    body = gzip.compress(json.dumps({"streams": [{"stream": {"a": "b"}, "values": good}]}).encode())
    assert push(loki, body, {"Content-Encoding": "gzip"})[0] == 204
    assert len(loki.entries()) == 2  # identical entries are kept once
    loki.stop()
    loki.start()  # the store and its de-duplication survive a restart
    assert push(loki, {"streams": [{"stream": {"a": "b"}, "values": good}]})[0] == 204
    assert len(loki.entries()) == 2


def test_a_batch_loki_refuses_whole_costs_a_bounded_number_of_requests(loki: LokiDouble) -> None:
    moment = datetime.now(UTC)
    raws = [msgspec.json.encode(event("started", new_id(), 0, moment)) for _ in range(300)]  # all over 300 bytes

    async def send() -> PermanentError:
        backend = LokiBackend("loki", {"url": loki.url, "tenant": "t1"})
        await backend.initialize()
        try:
            await backend.send_batch(Batch(raws))
        except PermanentError as exc:
            return exc
        finally:
            await backend.close()
        raise AssertionError("the batch was not refused")

    refused = asyncio.run(send())
    assert sorted(refused.rejected) == list(range(300))
    assert len(loki.requests()) <= 1 + SPLIT_REQUESTS_PER_BATCH
    assert loki.entries() == []


def test_entry_shape_for_one_event() -> None:
    raw = msgspec.json.encode(event("started", new_id(), 0, datetime(2026, 11, 30, 12, tzinfo=UTC)))
    one = entry(raw, 7, {"job": "wafermon"})
    assert isinstance(one, Entry) and one.index == 7 and one.ts == 1796040000_000000000
    assert json.loads(one.stream) == {
        "job": "wafermon",
        "site": "fab1",
        "app": "etch-line",
        "entity_type": "job",
        "status": "running",
    }


def test_an_event_without_an_entry_form_is_refused_alone(tmp_path: Path) -> None:
    moment = datetime.now(UTC)
    good = [msgspec.json.encode(event("started", new_id(), 0, moment)) for _ in range(2)]
    broken = b'{"event_id":"x","at":"2026-11-30T12:00:00.000000Z"}'  # no site_id, app, ...

    async def send() -> PermanentError:
        backend = LokiBackend("loki", {"url": loki.url})
        await backend.initialize()
        try:
            await backend.send_batch(Batch([good[0], broken, good[1]]))
        except PermanentError as exc:
            return exc
        finally:
            await backend.close()
        raise AssertionError("the broken event was not refused")

    with LokiDouble(tmp_path / "store.jsonl") as loki:
        refused = asyncio.run(send())
        stored = loki.entries()
    assert list(refused.rejected) == [1]
    assert "field 'site_id' (stream label 'site')" in refused.rejected[1]
    assert len(stored) == 2


def send_direct(double: LokiDouble, raws: list[bytes], **config: Any) -> LokiBackend:
    """LokiBackend.send_batch of raws into the double (no sidecar); returns the backend for its health."""

    async def send() -> LokiBackend:
        backend = LokiBackend("loki", {"url": double.url, **config})
        await backend.initialize()
        try:
            await backend.send_batch(Batch(raws))
        finally:
            await backend.close()
        return backend

    return asyncio.run(send())


def test_pushes_pass_loki_with_ordered_writes_across_several_pushes(tmp_path: Path) -> None:
    start = datetime.now(UTC)
    times = [start.replace(microsecond=0) + timedelta(seconds=s) for s in (9, 3, 7, 1, 8, 2, 6, 4, 5, 0)]
    raws = [msgspec.json.encode(event("progress", new_id(), 1, t, site_id="fab1")) for t in times]
    with LokiDouble(tmp_path / "store.jsonl", ordered_writes=True) as double:
        send_direct(double, raws, max_push_bytes=1500)  # ~2 entries a push
        requests = double.requests()
        stored = double.entries()
    assert len(requests) >= 4 and all(r["status"] == 204 for r in requests)
    assert [int(e["ts"]) for e in stored] == sorted(int(e["ts"]) for e in stored)
    assert len(stored) == len(raws)


def test_a_413_splits_the_push_and_later_pushes_stay_smaller(tmp_path: Path) -> None:
    moment = datetime.now(UTC)
    raws = [msgspec.json.encode(event("started", new_id(), 0, moment)) for _ in range(10)]
    with LokiDouble(tmp_path / "store.jsonl") as double:
        double.inject(413, 1, message="request entity too large")
        backend = send_direct(double, raws)
        statuses = [r["status"] for r in double.requests()]
        stored = double.entries()
    assert statuses == [413, 204, 204] and len(stored) == 10
    assert backend.max_push_bytes < 1024 * 1024
