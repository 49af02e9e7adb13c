"""The filter matcher (filters.py) against an independent reading of its documented grammar, over
random filters and random events (hypothesis), plus the algebra the grammar promises and its errors."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wafermon_sidecar.config import ConfigError
from wafermon_sidecar.filters import FIELD_KEYS, compile_filter, json_equal

KINDS = list(FIELD_KEYS["event_kind"] or ())
TYPES = list(FIELD_KEYS["entity_type"] or ())
STATUSES = list(FIELD_KEYS["status"] or ())
SITES = ["fab1", "fab2", "fab-3"]
APPS = ["processor", "etl", "ünïcode"]
META_KEYS = ["lot", "priority", "wafermon.heartbeat_s", "k"]
# Values chosen to collide across JSON types: 1, 1.0, True, "1", None, 0, False, "".
SCALARS = st.sampled_from([1, 1.0, True, "1", None, 0, False, "", "high", 2.5])


def _one_or_list(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(values, st.lists(values, min_size=1, max_size=3))


LEAVES = st.one_of(
    st.fixed_dictionaries({"event_kind": _one_or_list(st.sampled_from(KINDS))}),
    st.fixed_dictionaries({"entity_type": _one_or_list(st.sampled_from(TYPES))}),
    st.fixed_dictionaries({"status": _one_or_list(st.sampled_from(STATUSES))}),
    st.fixed_dictionaries({"site_id": _one_or_list(st.sampled_from(SITES))}),
    st.fixed_dictionaries({"app": _one_or_list(st.sampled_from(APPS))}),
    st.fixed_dictionaries(
        {"metadata": st.dictionaries(st.sampled_from(META_KEYS), _one_or_list(SCALARS), min_size=1, max_size=2)}
    ),
    st.fixed_dictionaries({"metadata_has": _one_or_list(st.sampled_from(META_KEYS))}),
    st.just({}),
)


def _merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in parts:
        for key, value in part.items():
            merged.setdefault(key, value)  # one value per key, as a mapping allows
    return merged


FILTERS = st.recursive(
    LEAVES,
    lambda inner: st.one_of(
        st.fixed_dictionaries({"not": inner}),
        st.fixed_dictionaries({"any": st.lists(inner, max_size=3)}),
        st.fixed_dictionaries({"all": st.lists(inner, max_size=3)}),
        st.lists(inner, min_size=2, max_size=3).map(_merge),
    ),
    max_leaves=8,
)

METADATA = st.one_of(
    st.dictionaries(st.sampled_from(META_KEYS), st.one_of(SCALARS, st.just({"nested": 1}), st.just([1])), max_size=4),
    st.just(None),
)
EVENTS = st.fixed_dictionaries(
    {
        "event_kind": st.sampled_from(KINDS),
        "entity_type": st.sampled_from(TYPES),
        "status": st.sampled_from(STATUSES),
        "site_id": st.sampled_from(SITES),
        "app": st.one_of(st.fixed_dictionaries({"name": st.sampled_from(APPS), "version": st.just("1")}), st.none()),
        "metadata": METADATA,
    }
)


def _same(a: Any, b: Any) -> bool:
    """JSON equality written out case by case (the documented rule, not filters.json_equal)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return False


def reference(spec: dict[str, Any], event: dict[str, Any]) -> bool:
    """The grammar as docs/sidecar.md states it, evaluated the plain way."""
    for key, value in spec.items():
        wanted = value if isinstance(value, list) else [value]
        if key == "app":
            actual = (event.get("app") or {}).get("name")
            ok = actual in wanted
        elif key in FIELD_KEYS:
            ok = event.get(key) in wanted
        elif key == "metadata":
            meta = event.get("metadata") or {}
            ok = all(
                k in meta and any(_same(meta[k], w) for w in (v if isinstance(v, list) else [v]))
                for k, v in value.items()
            )
        elif key == "metadata_has":
            meta = event.get("metadata")
            ok = meta is not None and all(k in meta for k in wanted)
        elif key == "not":
            ok = not reference(value, event)
        elif key == "any":
            ok = any(reference(f, event) for f in value)
        elif key == "all":
            ok = all(reference(f, event) for f in value)
        else:
            raise AssertionError(key)
        if not ok:
            return False
    return True


@settings(max_examples=400, deadline=None)
@given(FILTERS, st.lists(EVENTS, min_size=1, max_size=8))
def test_the_matcher_agrees_with_the_grammar(spec: dict[str, Any], events: list[dict[str, Any]]) -> None:
    compiled = compile_filter(spec, "backends[t].filter")
    for event in events:
        expected = reference(spec, event)
        assert compiled.matches_raw(msgspec.json.encode(event)) == expected, (spec, event)  # the delivery path
        assert compiled.matches(event) == expected, (spec, event)


@settings(max_examples=200, deadline=None)
@given(FILTERS, FILTERS, EVENTS)
def test_the_algebra_holds(a: dict[str, Any], b: dict[str, Any], event: dict[str, Any]) -> None:
    def match(spec: dict[str, Any]) -> bool:
        return compile_filter(spec, "f").matches(event)

    assert match({"not": {"not": a}}) == match(a)
    assert match({"any": [a]}) == match(a) == match({"all": [a]})
    assert match({"not": {"any": [a, b]}}) == match({"all": [{"not": a}, {"not": b}]})  # De Morgan
    assert match({"any": [a, b]}) == (match(a) or match(b))
    assert match({"all": [a, b]}) == (match(a) and match(b))


@given(EVENTS)
def test_empty_forms(event: dict[str, Any]) -> None:
    assert compile_filter({}, "f").matches(event) is True
    assert compile_filter({"all": []}, "f").matches(event) is True
    assert compile_filter({"any": []}, "f").matches(event) is False


@given(SCALARS, SCALARS)
def test_json_equality_is_by_json_type(a: Any, b: Any) -> None:
    assert json_equal(a, b) == _same(a, b)


def test_metadata_values_compare_strictly() -> None:
    match = compile_filter({"metadata": {"k": 1}}, "f").matches
    assert match({"metadata": {"k": 1}}) and match({"metadata": {"k": 1.0}})
    assert not match({"metadata": {"k": True}}) and not match({"metadata": {"k": "1"}})
    assert not match({"metadata": {"k": [1]}}) and not match({"metadata": {}}) and not match({"metadata": None})
    assert compile_filter({"metadata": {"k": None}}, "f").matches({"metadata": {"k": None}})
    assert not compile_filter({"metadata": {"k": None}}, "f").matches({"metadata": {}})  # absent is not null
    assert compile_filter({"metadata_has": "k"}, "f").matches({"metadata": {"k": None}})


@pytest.mark.parametrize(
    ("spec", "key", "words"),
    [
        ({"status": "faild"}, "backends[es].filter.status", "'faild' is not one of running, succeeded"),
        ({"stauts": "failed"}, "backends[es].filter.stauts", "unknown filter key"),
        ({"any": [{"site_id": "a"}, {"event_kind": "done"}]}, "backends[es].filter.any[1].event_kind", "not one of"),
        ({"not": {"metadata": {"lot": {"a": 1}}}}, "backends[es].filter.not.metadata.lot", "not a JSON scalar"),
        ({"site_id": 7}, "backends[es].filter.site_id", "is not a string"),
        ({"status": []}, "backends[es].filter.status", "empty list"),
        ({"any": {"status": "failed"}}, "backends[es].filter.any", "must be a list of filters"),
        ({"metadata_has": []}, "backends[es].filter.metadata_has", "non-empty list"),
        ({"metadata": {}}, "backends[es].filter.metadata", "non-empty mapping"),
        ([{"status": "failed"}], "backends[es].filter", "must be a mapping"),
    ],
)
def test_bad_filters_name_the_key(spec: Any, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        compile_filter(spec, "backends[es].filter")
    assert caught.value.key == key
    assert str(caught.value).startswith(key) and words in str(caught.value)


def test_nesting_is_bounded() -> None:
    spec: dict[str, Any] = {"status": "failed"}
    for _ in range(40):
        spec = {"not": spec}
    with pytest.raises(ConfigError, match="nest at most"):
        compile_filter(spec, "f")
