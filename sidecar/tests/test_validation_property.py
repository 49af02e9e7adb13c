"""Property tests: any mix of valid and invalid vectors → exactly the valid ones accepted and every
invalid index reported with its field; and the fast path never disagrees with wafermon_schema."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
import msgspec.inspect
import pytest
from conftest import VECTORS, SidecarProc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wafermon_schema import BatchFormatError, check_batch
from wafermon_schema.model import Event
from wafermon_sidecar.validation import judge, self_check

ENCODINGS = ["array", "ndjson", "array+gzip", "ndjson+gzip", "pretty-array"]


def encode(events: list[Any], encoding: str) -> tuple[bytes, dict[str, str]]:
    headers = {"Content-Type": "application/json"}
    if encoding.startswith("ndjson"):
        body = b"\n".join(json.dumps(e).encode() for e in events) + b"\n"
        headers["Content-Type"] = "application/x-ndjson"
    elif encoding == "pretty-array":
        body = json.dumps(events, indent=2).encode()
    else:
        body = json.dumps(events).encode()
    if encoding.endswith("gzip"):
        body = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
    return body, headers


def field_matches(reported: str, expected: str) -> bool:
    # the vectors name the top-level field; the validator may add the sub-field ("metrics.duration_s")
    return reported == expected or reported.startswith(expected + ".")


mixes = st.lists(st.integers(0, len(VECTORS) - 1), min_size=1, max_size=25)


def test_any_mix_of_vectors_over_http(sidecar: Callable[..., SidecarProc], tmp_path: Path) -> None:
    sc = sidecar([{"type": "filesystem", "name": "files", "config": {"path": str(tmp_path / "out")}}])

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(picks=mixes, encoding=st.sampled_from(ENCODINGS))
    def check(picks: list[int], encoding: str) -> None:
        chosen = [VECTORS[i] for i in picks]
        body, headers = encode([v["event"] for v in chosen], encoding)
        r = sc.post(body, headers=headers)
        valid = sum(1 for v in chosen if v["valid"])
        expected_status = 202 if valid == len(chosen) else (400 if valid == 0 else 207)
        assert r.status_code == expected_status, r.text
        reply = r.json()
        assert reply["accepted"] == (valid if valid else 0)
        bad = [(i, v["field"]) for i, v in enumerate(chosen) if not v["valid"]]
        assert [p["index"] for p in reply["rejected"]] == [i for i, _ in bad]
        for problem, (_, field) in zip(reply["rejected"], bad, strict=True):
            assert field_matches(problem["field"], field), (problem, field)

    check()


# Mutations of valid events: every field set to values of the wrong type, shape or pattern.
FIELDS = sorted({k for v in VECTORS if v["valid"] for k in v["event"]} | {"progress", "trace", "surprise"})
odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**60), 2**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(
        [
            "01936f0e-8a6b-7c3d-9e1f-0a1b2c3d4e5f",
            "01936F0E-8A6B-7C3D-9E1F-0A1B2C3D4E5F",
            "01936f0e-8a6b-7c3d-9e1f-0a1b2c3d4e5f\n",
            "2026-11-23T08:15:30.123456Z",
            "2026-11-23T08:15:30.123456Z\n",
            "2026-11-23T08:15:30Z",
            {"trace_id": "0" * 32, "span_id": "0" * 16},
            {"trace_id": "0" * 32 + "\n", "span_id": "0" * 16},
            {"trace_id": "A" * 32, "span_id": "0" * 16},
            {"name": "x", "version": "1"},
            {"lang": "c", "version": "1"},
            {"duration_s": 1.0},
            {"type": "E", "message": "m"},
            "running",
            "finished",
            "subjob",
        ]
    ),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
mutation = st.tuples(st.sampled_from(FIELDS), odd_values, st.booleans())
valid_events = [v["event"] for v in VECTORS if v["valid"]]


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(
        st.tuples(st.integers(0, len(valid_events) - 1), st.lists(mutation, max_size=2)), min_size=1, max_size=12
    ),
    ndjson=st.booleans(),
)
def test_fast_path_agrees_with_the_schema_package(items: list[tuple[int, list[Any]]], ndjson: bool) -> None:
    events = []
    for index, mutations in items:
        event = json.loads(json.dumps(valid_events[index]))
        for field, value, delete in mutations:
            if delete:
                event.pop(field, None)
            else:
                event[field] = value
        events.append(event)
    body = b"\n".join(json.dumps(e).encode() for e in events) if ndjson else json.dumps(events).encode()
    try:
        accepted, problems = check_batch(body)
    except BatchFormatError:
        with pytest.raises(BatchFormatError):
            judge(body)
        return
    verdict = judge(body)
    assert verdict.accepted == len(accepted)
    assert [p.as_dict() for p in verdict.problems] == [p.as_dict() for p in problems]
    if not accepted:
        assert verdict.payload == b""
    else:
        assert [json.loads(line) for line in verdict.payload.split(b"\n")] == [json.loads(a.raw) for a in accepted]


def test_fast_path_self_check_passes() -> None:
    assert self_check() is True


def _agreement(check: Any) -> Callable[[], None]:
    @settings(max_examples=200, deadline=None)
    @given(
        st.lists(
            st.one_of(
                st.from_regex(check.single, fullmatch=True),
                st.text(alphabet="0123456789abcdefABCDEF-:.TZ\n é", max_size=40),
            ),
            min_size=1,
            max_size=6,
        )
    )
    def agree(values: list[str]) -> None:
        expected = all("\n" not in v and check.single.search(v) is not None for v in values)
        assert check.template.matches("\n".join(values) + "\n", len(values)) == expected

    return agree  # type: ignore[no-any-return]


def _model_patterns() -> set[str]:
    """Every `pattern` constraint of wafermon_schema's Event, at any depth."""
    found: set[str] = set()

    def walk(kind: Any) -> None:
        if isinstance(kind, msgspec.inspect.StrType) and kind.pattern is not None:
            found.add(kind.pattern)
        elif isinstance(kind, msgspec.inspect.UnionType):
            for member in kind.types:
                walk(member)
        elif isinstance(kind, msgspec.inspect.StructType):
            for field in kind.fields:
                walk(field.type)

    walk(msgspec.inspect.type_info(Event))
    return found


def test_templates_agree_with_the_regex_they_replace() -> None:
    from wafermon_sidecar.validation.native import compile_template

    checks = [SimpleNamespace(single=re.compile(p), template=compile_template(p[1:-1])) for p in _model_patterns()]
    assert checks
    assert all(c.template is not None for c in checks)  # every pattern of event v1 is fixed-width
    for check in checks:
        _agreement(check)()
    for not_fixed in ("[^a]{3}", "a.b", "a+", "[0-9][0-5]", "(ab){2}", "[\\d]{2}"):
        assert compile_template(not_fixed) is None, not_fixed


def _agrees(body: bytes) -> None:
    accepted, problems = check_batch(body)
    verdict = judge(body)
    assert verdict.accepted == len(accepted)
    assert [p.as_dict() for p in verdict.problems] == [p.as_dict() for p in problems]


def test_ndjson_lines_must_each_be_one_event() -> None:
    """Lines that only make events when joined (halves of an event, two events on one line) are each bad."""
    first, second, third = (json.dumps(e, separators=(",", ":")) for e in valid_events[:3])
    cut = first.index(',"event_kind"')
    halves = [first[:cut], first[cut + 1 :]]
    for lines in ([*halves, f"{second},{third}"], [f"{second},{third}", *halves], [first, f"{second} ,{third}"]):
        _agrees("\n".join(lines).encode())
    _agrees(f"{first}\r\n{second}\r\n".encode())
    _agrees(f"{first}\n\n{second}".encode())


def test_metadata_that_only_a_full_decode_refuses() -> None:
    """metadata the native check cannot vouch for (numbers out of range, deep nesting) is refused as the
    authority refuses it."""
    numbers = [b"1e400", b"-2E308", b"9" * 400, b"9" * 5000, b"1e5", b"0.5", b'"\\u65e5 5e400"', b"[1,2.5e3]"]
    for value in numbers:
        events = [dict(e) for e in valid_events[:3]]
        body = json.dumps(events).replace('"metadata": {', '"metadata": {"x": 0, ', 1).encode()
        _agrees(body.replace(b'"x": 0', b'"x": ' + value, 1))
    deep = json.dumps(valid_events[:2]).replace('"metadata": {', '"metadata": {"d": ' + "[" * 300 + "]" * 300 + ", ", 1)
    _agrees(deep.encode())


def test_cross_field_table_matches_the_rules_and_refuses_what_it_cannot_stand_for() -> None:
    from wafermon_schema import cross_field_problem
    from wafermon_sidecar.validation.crossfield import derive_table, event_table

    cross_field = event_table()
    assert cross_field is not None
    model = Event
    assert set(cross_field.fields) >= {"event_kind", "status", "entity_type", "parent_id", "metrics", "error"}
    decoder = msgspec.json.Decoder(list[model])
    for vector in VECTORS:
        try:
            events = decoder.decode(json.dumps([vector["event"]]).encode())
        except msgspec.MsgspecError:
            continue
        assert cross_field.ok(events) == (cross_field_problem(events[0]) is None), vector["description"]

    def reads_trace(event: Any) -> tuple[str, str] | None:
        return None if event.trace is msgspec.UNSET or event.event_kind == "started" else ("trace", "no")

    def reads_a_number(event: Any) -> tuple[str, str] | None:
        return None if event.progress is msgspec.UNSET else ("progress", "no")

    def compares_a_value(event: Any) -> tuple[str, str] | None:
        return ("seq", "no") if event.seq > 5 else None

    def looks_inside(event: Any) -> tuple[str, str] | None:
        return ("metrics", "no") if event.metrics is not msgspec.UNSET and event.metrics.duration_s else None

    table = derive_table(model, reads_trace)
    assert table is not None and "trace" in table.fields  # a presence fact: tabulated
    events = decoder.decode(json.dumps([e for e in valid_events if "trace" in e]).encode())
    assert events and table.ok(events) == all(reads_trace(e) is None for e in events)
    assert derive_table(model, reads_a_number) is None  # a float field cannot be enumerated
    assert derive_table(model, compares_a_value) is None
    assert derive_table(model, looks_inside) is None
