"""The native all-valid check (native/eventcheck.cpp via validation/native.py) against the authority.

Its one duty: never count a body as valid when wafermon_schema would refuse any of its events. It may
say "not sure" (-1) for valid bodies, but not for what the SDKs send, or it would be no faster.
"""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
import pytest
from conftest import VECTORS
from hypothesis import given, settings
from hypothesis import strategies as st

from wafermon_schema import Problem, check_event
from wafermon_sidecar import _eventcheck, validation
from wafermon_sidecar.validation import batch
from wafermon_sidecar.validation import native as nativecheck

VALID = [v["event"] for v in VECTORS if v["valid"]]
NATIVE = batch._native


def line(event: Any, ascii_only: bool = False) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=ascii_only).encode()


def authority_accepts(raw: bytes) -> bool:
    return not isinstance(check_event(0, raw), Problem)


def native(raw: bytes) -> int:
    assert NATIVE is not None
    return NATIVE.count_valid(raw)


def assert_sound(raw: bytes) -> int:
    count = native(raw)
    assert count in (-1, 1), count
    if count == 1:
        assert authority_accepts(raw), raw
    return count


def test_it_is_built_and_passes_the_start_up_check() -> None:
    assert NATIVE is not None
    assert validation.self_check() is True
    assert batch._native is not None


@pytest.mark.parametrize("ascii_only", [False, True], ids=["utf8", "escaped"])
def test_every_vector_gets_the_authoritys_verdict(ascii_only: bool) -> None:
    for vector in VECTORS:
        raw = line(vector["event"], ascii_only)
        assert (assert_sound(raw) == 1) == vector["valid"], vector["description"]


def with_field(path: str, value: Any, base: int = 0) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(json.dumps(VALID[base]))
    *parents, name = path.split(".")
    target = event
    for parent in parents:
        target = target.setdefault(parent, {})
    target[name] = value
    return event


def finished(**fields: Any) -> dict[str, Any]:
    event = next(e for e in VALID if e["event_kind"] == "finished" and e["status"] == "succeeded")
    return {**json.loads(json.dumps(event)), **fields}


# (description, raw line, what the native check answers); each is also checked against the authority.
EDGES: list[tuple[str, bytes, int]] = [
    ("128 two-byte characters are 128, not 256", line(with_field("site_id", "é" * 128)), 1),
    ("129 characters are too many", line(with_field("site_id", "é" * 129)), -1),
    ("astral characters count once", line(with_field("host", "😀" * 255)), 1),
    ("an escaped surrogate pair is one character", line(with_field("host", "😀" * 255), ascii_only=True), 1),
    ("a lone high surrogate", line(with_field("metadata", {"k": "x"})).replace(b'"x"', b'"\\ud83d"'), -1),
    ("a lone low surrogate", line(with_field("metadata", {"k": "x"})).replace(b'"x"', b'"\\ude00"'), -1),
    ("high then not low", line(with_field("metadata", {"k": "x"})).replace(b'"x"', b'"\\ud83d\\u0041"'), -1),
    ("an escaped backslash before ud", line(with_field("metadata", {"k": "\\ud800"})), 1),
    ("a raw control byte in a string", line(with_field("host", "a\x01b")).replace(b"\\u0001", b"\x01"), -1),
    ("an escaped control byte in a string", line(with_field("host", "a\x01b")), 1),
    ("a tab between tokens", line(VALID[0]).replace(b',"seq"', b',\t"seq"'), 1),
    ("a carriage return between tokens", line(VALID[0]).replace(b',"seq"', b',\r"seq"'), -1),
    ("invalid UTF-8", line(with_field("host", "hé")).replace("é".encode(), b"\xc3\x28"), -1),
    ("an overlong encoding", line(with_field("host", "h/")).replace(b"/", b"\xc0\xaf"), -1),
    ("an encoded surrogate", line(with_field("host", "hé")).replace("é".encode(), b"\xed\xa0\x80"), -1),
    ("a byte order mark", b"\xef\xbb\xbf" + line(VALID[0]), -1),
    ("a duplicate key (msgspec keeps the last)", line(VALID[0]).replace(b'"seq":', b'"seq":1,"seq":', 1), -1),
    ("an unknown field", line(with_field("surprise", 1)), -1),
    ("an unknown nested field", line(with_field("app.surprise", 1)), -1),
    ("an escaped key names the same field", line(VALID[0]).replace(b'"seq"', b'"\\u0073eq"'), 1),
    ("an escaped unknown key", line(VALID[0]).replace(b'"seq"', b'"\\u0073eqq"'), -1),
    ("null where it may not be", line(with_field("host", None)), -1),
    ("null where it may be", line(with_field("business_key", None)), 1),
    ("seq as 3.0 (the authority makes it 3)", line(with_field("seq", 3.0)), -1),
    ("seq of -1", line(with_field("seq", -1)), -1),
    ("seq at its maximum", line(with_field("seq", 2**53 - 1)), 1),
    ("seq beyond its maximum", line(with_field("seq", 2**53)), -1),
    ("seq of 2**64-1", line(with_field("seq", 2**64 - 1)), -1),
    ("seq beyond 64 bits", line(with_field("seq", 2**70)), -1),
    ("pid at its maximum", line(with_field("pid", 2**32 - 1)), 1),
    ("pid beyond its maximum", line(with_field("pid", 2**32)), -1),
    ("pid as true", line(with_field("pid", True)), -1),
    ("an uppercase UUID", line(with_field("event_id", VALID[0]["event_id"].upper())), -1),
    ("a UUID with an escaped newline", line(with_field("event_id", VALID[0]["event_id"] + "\n")), -1),
    ("a timestamp without micros", line(with_field("at", "2026-11-23T08:15:30Z")), -1),
    ("a non-ASCII digit in a timestamp", line(with_field("at", "2026-11-23T08:15:30.12345٣Z")), -1),
    ("an unknown enum value", line(with_field("event_kind", "paused")), -1),
    ("a number for an enum", line(with_field("status", 1)), -1),
    ("metadata not an object", line(with_field("metadata", [1])), -1),
    ("metadata 1e400", line(with_field("metadata", {"x": 0})).replace(b'"x":0', b'"x":1e400'), -1),
    ("metadata -2E308", line(with_field("metadata", {"x": 0})).replace(b'"x":0', b'"x":-2E308'), -1),
    ("metadata 1e-400 (zero)", line(with_field("metadata", {"x": 0})).replace(b'"x":0', b'"x":1e-400'), 1),
    ("metadata with a 400-digit integer", line(with_field("metadata", {"x": 10**400})), -1),
    ("metadata 64 levels deep", line(with_field("metadata", {"d": json.loads("[" * 63 + "]" * 63)})), 1),
    ("metadata 65 levels deep", line(with_field("metadata", {"d": json.loads("[" * 64 + "]" * 64)})), -1),
    ("metadata 300 levels deep", line(with_field("metadata", {"d": json.loads("[" * 300 + "]" * 300)})), -1),
    ("metadata with every JSON type", line(with_field("metadata", {"a": [1, -2, 2.5, True, None, "s", {}]})), 1),
    ("progress 1 as an integer", line(with_field("progress", 1)), 1),
    ("progress -0.0", line(with_field("progress", -0.0)), 1),
    ("progress just above 1", line(with_field("progress", 1.0000001)), -1),
    ("a trailing comma", line(VALID[0])[:-1] + b",}", -1),
    ("two events on one line", line(VALID[0]) + line(VALID[1]), -1),
    ("an array, not an object", b"[" + line(VALID[0]) + b"]", -1),
    ("finished without metrics", line({k: v for k, v in finished().items() if k != "metrics"}), -1),
    ("finished, failed, with error", line(finished(status="failed", error={"type": "E", "message": "m"})), 1),
    ("failed without error", line(finished(status="failed")), -1),
    ("failed with error null", line(finished(status="failed", error=None)), -1),
    ("succeeded with error", line(finished(error={"type": "E", "message": "m"})), -1),
    ("succeeded with error null", line(finished(error=None)), 1),
    ("running but finished", line(finished(status="running")), -1),
    ("a subjob without parent", line(with_field("entity_type", "subjob")), -1),
    ("a job with a parent", line(with_field("parent_id", VALID[0]["entity_id"])), -1),
    ("an event over the size limit", line(with_field("metadata", {"k": "x" * 98304})), -1),
    # wafermon_schema/rules.py, beyond the schema
    ("at on a day the month lacks", line(with_field("at", "2027-02-29T08:15:30.123456Z")), -1),
    ("at on a leap day", line(with_field("at", "2024-02-29T08:15:30.123456Z")), 1),
    ("at on 1900-02-29 (no leap year)", line(with_field("at", "1900-02-29T08:15:30.123456Z")), -1),
    ("at with hour 24", line(with_field("at", "2026-11-23T24:00:00.000000Z")), -1),
    ("at with second 60", line(with_field("at", "2026-11-23T23:59:60.000000Z")), -1),
    ("at before 1970", line(with_field("at", "1969-12-31T23:59:59.999999Z")), -1),
    ("at in 1970", line(with_field("at", "1970-01-01T00:00:00.000000Z")), 1),
    ("NUL escaped in metadata", line(with_field("metadata", {"k": "a\x00"}), ascii_only=True), -1),
    ("NUL escaped in a key", line(with_field("metadata", {"\x00": 1}), ascii_only=True), -1),
    ("an escaped backslash before u0000", line(with_field("metadata", {"k": "\\u0000"})), 1),
    ("heartbeat 1e20", line(with_field("metadata", {"wafermon.heartbeat_s": 1e20})), -1),
    ("heartbeat 2**63", line(with_field("metadata", {"wafermon.heartbeat_s": 2**63})), -1),
    ("nested heartbeat 1e300", line(with_field("metadata", {"wafermon": {"heartbeat_s": 1e300}})), -1),
    ("heartbeat true", line(with_field("metadata", {"wafermon.heartbeat_s": True})), -1),
    ("heartbeat a string", line(with_field("metadata", {"wafermon": {"heartbeat_s": "60"}})), -1),
    ("heartbeat zero", line(with_field("metadata", {"wafermon.heartbeat_s": 0})), -1),
    (
        "heartbeat 30 and null",
        line(with_field("metadata", {"wafermon.heartbeat_s": 30, "wafermon": {"heartbeat_s": None}})),
        1,
    ),
    ("heartbeat at the limit", line(with_field("metadata", {"wafermon.heartbeat_s": 2592000})), 1),
    ("a user's own wafermon value", line(with_field("metadata", {"wafermon": [1e20]})), 1),
    (
        "a number with a 4-digit negative exponent",
        line(with_field("metadata", {"k": 1.5})).replace(b"1.5", b"1e-1000"),
        -1,
    ),
    (
        "a number needing 20000 fraction digits",
        line(with_field("metadata", {"k": 1.5})).replace(b"1.5", b"1e-20000"),
        -1,
    ),
    ("a 3-digit negative exponent", line(with_field("metadata", {"k": 1.5})).replace(b"1.5", b"1e-300"), 1),
    ("an exponent in a string", line(with_field("metadata", {"k": "1e-20000"})), 1),
    ("a UUID ending in e-digits", line(with_field("entity_id", "01936f0e-8a6b-7c3d-9e1e-123456789012")), 1),
]


@pytest.mark.parametrize(("raw", "expected"), [(raw, want) for _, raw, want in EDGES], ids=[d for d, _, _ in EDGES])
def test_edges(raw: bytes, expected: int) -> None:
    assert assert_sound(raw) == expected


def test_the_clock_rule_is_given_per_call() -> None:
    assert NATIVE is not None
    at = VALID[0]["at"]
    raw = line(VALID[0])
    assert NATIVE.count_valid(raw, at) == 1  # `at` may equal the latest allowed
    assert NATIVE.count_valid(raw, at[:-2] + "4Z") == -1  # one microsecond earlier: not sure
    assert NATIVE.count_valid_array(b"[" + raw + b"]", at[:-2] + "4Z") == (-1, None)
    assert NATIVE.count_valid(raw, None) == 1


def test_bodies_count_every_line_or_none() -> None:
    lines = [line(VALID[i % len(VALID)]) for i in range(1000)]
    assert native(b"\n".join(lines)) == 1000
    assert native(lines[0]) == 1
    bad = line(with_field("seq", -1))
    for where in (0, 500, 999):
        assert native(b"\n".join([*lines[:where], bad, *lines[where + 1 :]])) == -1
    assert native(b"\n".join(lines) + b"\n") == -1  # a blank last line: the caller strips the body
    assert native(b"\n".join(lines[:2]).replace(b"\n", b"\n\n")) == -1
    assert native(b"\n".join(lines[:2]).replace(b"\n", b"\r\n")) == -1
    assert native(b"") == -1


def native_array(body: bytes) -> tuple[int, bytes | None]:
    assert NATIVE is not None
    return NATIVE.count_valid_array(body)


def test_arrays_give_the_items_own_texts_as_ndjson() -> None:
    lines = [line(VALID[i % len(VALID)]) for i in range(600)]
    assert native_array(b"[" + b",".join(lines) + b"]") == (600, b"\n".join(lines))
    spaced = b" [ \n" + b" ,\r\n\t".join(lines[:3]) + b"\n ] \n"  # whitespace between items is not theirs
    assert native_array(spaced) == (3, b"\n".join(lines[:3]))
    braces = line(with_field("metadata", {"s": '}]{[\\"', "t": ["}"]}))
    assert native_array(b"[" + braces + b"," + lines[0] + b"]") == (2, braces + b"\n" + lines[0])


@pytest.mark.parametrize(
    "frame",
    [
        b"[A B]",
        b"[A,]",
        b"[A],",
        b"[A]x",
        b"[,A]",
        b"[A,,B]",
        b"[A",
        b"A,B]",
        b"[]",
        b"[A,1]",
        b"[A,[B]]",
        b"[A,null]",
        b'[A,"x"]',
        b"{A}",
        b"[A]]",
        b"[[A]]",
    ],
)
def test_arrays_that_are_not_a_plain_list_of_events(frame: bytes) -> None:
    body = frame.replace(b"A", line(VALID[0])).replace(b"B", line(VALID[1]))
    assert native_array(body) == (-1, None)


def test_bodies_over_a_mebibyte() -> None:
    """Arrays above 1 MiB are left to Python (the array parser's memory is bounded); NDJSON is not."""
    lines = [line(VALID[i % len(VALID)]) for i in range(3000)]
    assert sum(map(len, lines)) > 1 << 20
    array = b"[" + b",".join(lines) + b"]"
    assert native_array(array) == (-1, None)
    assert validation.judge(array).accepted == 3000
    assert native(b"\n".join(lines)) == 3000


def test_arrays_over_a_mebibyte_are_judged_natively_item_by_item(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond the array path's bound, the items (split as the authority splits them) go through the
    NDJSON path: the authority is not asked when all are valid, and the verdict is the authority's."""
    lines = [line(VALID[i % len(VALID)]) for i in range(3000)]
    spaced = b"[\n" + b" ,\n\t".join(lines) + b"\n]"  # whitespace between items is not theirs
    bad = b"[" + b",".join([*lines[:2000], line(with_field("seq", -1)), *lines[2000:]]) + b"]"
    now = datetime.now(UTC)
    expected = {body: batch._authority(body, now) for body in (spaced, bad)}
    assert expected[spaced].payload == b"\n".join(lines) and expected[bad].problems
    asked: list[bytes] = []
    real_authority = batch._authority

    def authority(body: bytes, now: Any) -> validation.Verdict:
        asked.append(body)
        return real_authority(body, now)

    monkeypatch.setattr(batch, "_authority", authority)
    for body, verdict in expected.items():
        assert len(body) > 1 << 20 and native_array(body) == (-1, None)
        assert validation.judge(body, now) == verdict
    assert asked == [bad]


def test_pretty_arrays_are_left_to_python() -> None:
    assert native_array(json.dumps(VALID[:2], indent=2).encode()) == (-1, None)
    assert validation.judge(json.dumps(VALID[:2], indent=2).encode()).accepted == 2


def test_it_runs_in_many_threads_at_once() -> None:
    good = b"\n".join(line(VALID[i % len(VALID)]) for i in range(2000))
    bad = good + b"\n" + line(with_field("pid", -5))
    array = b"[" + good.replace(b"\n", b",") + b"]"
    results: list[tuple[int, int, int]] = []

    def work() -> None:
        for _ in range(20):
            results.append((native(good), native(bad), native_array(array)[0]))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [(2000, -1, 2000)] * 80


# Generated events: valid ones changed at any depth by values of every JSON kind and edge.
leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**65), 2**65),
    st.sampled_from([0, -1, 1, 2**32 - 1, 2**32, 2**53 - 1, 2**53, 2**63 - 1, 2**63, 2**64 - 1, 2**64]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, -0.0, 1.0, 1.5, 3.0, 1e308]),
    st.text(max_size=300),
    st.sampled_from(["", "é" * 64, "é" * 65, "x" * 128, "x" * 129, "😀" * 256, "a\nb", "\x00"]),
    st.from_regex(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\n?\Z"),
    st.sampled_from(["started", "progress", "heartbeat", "finished", "job", "subjob", "running", "failed", "c"]),
)
json_values = st.recursive(
    leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)
PATHS = sorted(
    {k for e in VALID for k in e}
    | {f"{k}.{s}" for e in VALID for k, v in e.items() if isinstance(v, dict) for s in v}
    | {"progress", "trace.trace_id", "trace.span_id", "error.type", "error.message", "surprise", "app.surprise"}
)


@settings(max_examples=1500, deadline=None)
@given(
    base=st.integers(0, len(VALID) - 1),
    changes=st.lists(st.tuples(st.sampled_from(PATHS), json_values, st.booleans()), max_size=3),
    ascii_only=st.booleans(),
)
def test_never_accepts_what_the_authority_refuses(base: int, changes: list[Any], ascii_only: bool) -> None:
    event: dict[str, Any] = json.loads(json.dumps(VALID[base]))
    for path, value, delete in changes:
        *parents, name = path.split(".")
        target = event
        for parent in parents:
            child = target.get(parent)
            if not isinstance(child, dict):
                child = target[parent] = {}
            target = child
        if delete:
            target.pop(name, None)
        else:
            target[name] = value
    raw = line(event, ascii_only)
    assert_sound(raw)
    count, ndjson = native_array(b"[" + line(VALID[0]) + b"," + raw + b"]")
    assert count in (-1, 2)
    if count == 2:
        assert authority_accepts(raw) and ndjson == line(VALID[0]) + b"\n" + raw


def test_description_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="unknown node kind"):
        _eventcheck.compile(("nope",), (), [], 100)
    with pytest.raises(ValueError, match="root must be a struct"):
        _eventcheck.compile(("object",), (), [], 100)
    with pytest.raises(ValueError, match="max_event_bytes"):
        _eventcheck.compile(("struct", ()), (), [], 0)
    with pytest.raises(ValueError, match="names a field the event does not have"):
        _eventcheck.compile(("struct", ()), (("absent", "x"),), [], 100)
    with pytest.raises(ValueError, match="allowed code is out of range"):
        _eventcheck.compile(("struct", (("x", ("object",), True, False),)), (("absent", "x"),), [2], 100)
    with pytest.raises(ValueError, match="PyCapsule"):
        _eventcheck.count_valid("not a checker", b"{}")
    with pytest.raises(TypeError):
        _eventcheck.count_valid_array(NATIVE.handle if NATIVE else None, "a str, not bytes")
    with pytest.raises(ValueError, match="template"):
        _eventcheck.compile(("struct", (("x", ("str", -1, -1, b"short", b"u"), True, False),)), (), [0], 100)


class Loose(msgspec.Struct):
    code: Annotated[str, msgspec.Meta(pattern="^a+$")]


class Multiple(msgspec.Struct):
    n: Annotated[int, msgspec.Meta(multiple_of=2)]


class Either(msgspec.Struct):
    v: int | str


class Inner(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=3)]


class WithAny(msgspec.Struct, forbid_unknown_fields=True):
    extra: Any | msgspec.UnsetType = msgspec.UNSET


class Small(msgspec.Struct, forbid_unknown_fields=True):
    kind: Annotated[int, msgspec.Meta(gt=0, lt=10)]
    ratio: Annotated[float, msgspec.Meta(gt=0.0, le=1.0)]
    inner: Inner | None


def test_what_it_cannot_express_leaves_the_model_to_python() -> None:
    for model in (Loose, Multiple, Either, WithAny):  # WithAny: Any as a field type is not dict[str, Any]
        with pytest.raises(nativecheck.Unsupported):
            nativecheck._struct_node(model)
    assert nativecheck.build(None) is None


def test_a_small_model_end_to_end() -> None:
    checker = _eventcheck.compile(nativecheck._struct_node(Small), (), [0], 1000)
    decoder = msgspec.json.Decoder(Small)
    for raw in (
        b'{"kind":1,"ratio":1,"inner":null}',
        b'{"kind":9,"ratio":0.5,"inner":{"name":"abc"}}',
        b'{"kind":0,"ratio":0.5,"inner":null}',
        b'{"kind":10,"ratio":0.5,"inner":null}',
        b'{"kind":1,"ratio":0,"inner":null}',
        b'{"kind":1,"ratio":0.5,"inner":{"name":""}}',
        b'{"kind":1,"ratio":0.5,"inner":{"name":"abcd"}}',
        b'{"kind":1,"ratio":0.5,"inner":{"name":"abc","x":1}}',
        b'{"kind":1,"ratio":0.5}',
    ):
        try:
            decoder.decode(raw)
            expected = 1
        except msgspec.ValidationError:
            expected = -1
        assert _eventcheck.count_valid(checker, raw) == expected, raw


def test_large_bodies_are_judged_on_the_validation_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the native check built, big bodies are judged on one thread beside
    the event loop (the check releases the GIL); small ones on the loop; without it, all on the loop."""
    from wafermon_sidecar.validation import OFFLOAD_MIN_BYTES, Validator

    big = b"\n".join(line(VALID[i % len(VALID)]) for i in range(400))
    small = line(VALID[0])
    assert len(big) >= OFFLOAD_MIN_BYTES > len(small)
    threads: list[str] = []
    real_judge = validation.judge

    def recording_judge(body: bytes) -> validation.Verdict:
        threads.append(threading.current_thread().name)
        return real_judge(body)

    monkeypatch.setattr("wafermon_sidecar.validation.runner.judge", recording_judge)

    async def run() -> list[int]:
        validator = Validator()
        await validator.start()
        try:
            verdicts = await asyncio.gather(*(validator.judge(b) for b in (big, small, big, big + b"\n{")))
            return [v.accepted for v in verdicts]
        finally:
            validator.close()

    assert asyncio.run(run()) == [400, 1, 400, 400]
    assert [t.startswith("validation") for t in threads] == [True, False, True, True]
    threads.clear()
    monkeypatch.setattr(batch, "_native", None)
    assert asyncio.run(run()) == [400, 1, 400, 400]
    assert threads == [threading.current_thread().name] * 4
