"""The fast validator and the normative JSON Schema must give the same verdict."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wafermon_schema import schema_path, vectors_path
from wafermon_schema import validate as fast  # the fast validator under test

SCHEMA = json.loads(schema_path().read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
VECTORS = json.loads(vectors_path().read_text())


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("vector", VECTORS, ids=[v["description"] for v in VECTORS])
def test_vector(vector: dict[str, Any]) -> None:
    raw = json.dumps(vector["event"]).encode()
    # "schema_valid": the JSON Schema alone accepts it; a rule beyond it (rules.py) refuses it.
    assert VALIDATOR.is_valid(vector["event"]) is vector.get("schema_valid", vector["valid"])
    verdict = fast.check_event(0, raw)
    if vector["valid"]:
        assert isinstance(verdict, fast.Accepted), verdict
    else:
        assert isinstance(verdict, fast.Problem)
        assert verdict.field.split(".")[0] == vector["field"], verdict


def _base() -> dict[str, Any]:
    return dict(next(v["event"] for v in VECTORS if v["valid"]))


uuids = st.uuids().map(str)
texts = st.text(max_size=20)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.floats(allow_nan=False, allow_infinity=False) | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
# Each field either keeps its good value or takes a value drawn from a mix of good and bad ones.
mutations: dict[str, st.SearchStrategy[Any]] = {
    "event_kind": st.sampled_from(["started", "progress", "heartbeat", "finished", "paused", 3]),
    "entity_type": st.sampled_from(["job", "subjob", "task"]),
    "parent_id": st.none() | uuids | st.just("x"),
    "seq": st.integers(-3, 2**60) | st.floats(allow_nan=False) | st.just("1"),
    "status": st.sampled_from(["running", "succeeded", "failed", "cancelled", "lost"]),
    "progress": st.floats(allow_nan=False, allow_infinity=False, min_value=-1, max_value=2),
    "metrics": st.fixed_dictionaries({}, optional={"duration_s": st.floats(-1, 1e6), "cpu_user_s": st.floats(0, 10)}),
    "error": st.none() | st.fixed_dictionaries({"type": st.text(max_size=5), "message": texts}),
    "metadata": st.dictionaries(texts, json_values, max_size=4) | st.lists(st.integers(), max_size=2),
    "site_id": st.text(max_size=130),
    "business_key": st.none() | st.text(max_size=300),
    "pid": st.integers(-2, 2**33),
}


@settings(max_examples=400, deadline=None)
@given(
    st.fixed_dictionaries({}, optional=mutations),
    st.sets(st.sampled_from(["site_id", "app", "metadata"]), max_size=1),
)
def test_generated_events_get_the_same_verdict(changes: dict[str, Any], removed: set[str]) -> None:
    event = _base() | changes
    for key in removed:
        del event[key]
    raw = json.dumps(event).encode()
    assert isinstance(fast.check_event(0, raw), fast.Accepted) == (
        VALIDATOR.is_valid(event) and _rules_accept(event)
    ), event


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value, *(s for v in value.values() for s in _strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _rules_accept(event: dict[str, Any]) -> bool:
    """The rules beyond the JSON Schema (wafermon_schema/rules.py), written independently: no NUL in
    any string, a heartbeat in metadata within (0, 30 days]. (The generated `at` is always real.)"""
    if any("\x00" in s for s in _strings(event)):
        return False
    metadata = event.get("metadata")
    if isinstance(metadata, dict):
        nested = metadata.get("wafermon")
        for value in (
            metadata.get("wafermon.heartbeat_s"),
            nested.get("heartbeat_s") if isinstance(nested, dict) else None,
        ):
            if value is not None and (type(value) not in (int, float) or not 0 < value <= 2592000):
                return False
    return True


def test_batch_keeps_good_events_beside_bad_ones() -> None:
    good = _base()
    bad = _base() | {"seq": -1}
    body = json.dumps([good, bad, good]).encode()
    accepted, problems = fast.check_batch(body)
    assert [a.index for a in accepted] == [0, 2]
    assert [(p.index, p.field) for p in problems] == [(1, "seq")]
    assert json.loads(accepted[0].raw) == good


def test_ndjson_and_single_object_bodies() -> None:
    good = json.dumps(_base()).encode()
    assert len(fast.split_body(good + b"\n" + good + b"\n")) == 2
    assert len(fast.split_body(good)) == 1
    accepted, problems = fast.check_batch(good + b"\n{not json\n")
    assert len(accepted) == 1 and problems[0].field == "event"


@pytest.mark.parametrize("body", [b"", b"   ", b"[1, 2", b"[{]"])
def test_malformed_bodies_name_the_problem(body: bytes) -> None:
    with pytest.raises(fast.BatchFormatError):
        fast.check_batch(body)


def test_oversized_event_is_refused_by_size() -> None:
    event = _base() | {"metadata": {"blob": "x" * fast.MAX_EVENT_BYTES}}
    verdict = fast.check_event(0, json.dumps(event).encode())
    assert isinstance(verdict, fast.Problem) and verdict.field == "event" and "limit" in verdict.message


def test_nested_problem_names_the_nested_field() -> None:
    event = _base() | {"app": {"name": "x", "version": "1", "colour": "red"}}
    verdict = fast.check_event(0, json.dumps(event).encode())
    assert isinstance(verdict, fast.Problem) and verdict.field == "app.colour"


def test_deeply_nested_metadata_is_a_problem_not_a_crash() -> None:
    from wafermon_schema.validate import Problem, check_event

    event = dict(next(v["event"] for v in VECTORS if v["valid"]), metadata={"PLACEHOLDER": 1})
    deep = b'{"a":' + b"[" * 40000 + b"]" * 40000 + b"}"
    raw = json.dumps(event).encode().replace(b'{"PLACEHOLDER": 1}', deep)
    verdict = check_event(0, raw)
    assert isinstance(verdict, Problem) and verdict.field == "metadata"


def test_invalid_utf8_in_a_string_is_that_events_problem() -> None:
    good = json.dumps(_base()).encode()
    bad = json.dumps(_base() | {"business_key": "PLACEHOLDER"}).encode().replace(b"PLACEHOLDER", b"caf\xe9")
    for body in (b"[" + good + b"," + bad + b"," + good + b"]", good + b"\n" + bad + b"\n" + good):
        accepted, problems = fast.check_batch(body)
        assert [a.index for a in accepted] == [0, 2]
        assert [(p.index, p.field) for p in problems] == [(1, "event")]
        assert problems[0].message == f"a string in the event is not valid UTF-8 (byte {bad.index(b'caf') + 3})"


def test_an_array_item_nested_too_deeply_to_split_keeps_its_neighbours() -> None:
    good = json.dumps(_base()).encode()
    deep = b"[" * 200000 + b"]" * 200000  # beyond the decoder's recursion even to find its end
    tricky = json.dumps(_base() | {"metadata": {"s": 'a "]}," string'}}).encode()
    accepted, problems = fast.check_batch(b"[" + good + b", " + deep + b",\n" + tricky + b"]")
    assert [a.index for a in accepted] == [0, 2]
    assert [p.index for p in problems] == [1]
    assert accepted[1].event.metadata == {"s": 'a "]}," string'}


@pytest.mark.parametrize("body", [b"[" * 200000, b"[" * 200000 + b"]" * 200001, b"[" * 200000 + b"]" * 200000 + b"x"])
def test_a_too_deep_body_that_is_not_an_array_is_a_format_error(body: bytes) -> None:
    with pytest.raises(fast.BatchFormatError, match="not a valid JSON array"):
        fast.check_batch(body)
