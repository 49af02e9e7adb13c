"""The rules beyond the JSON Schema (rules.py) and the words of every refusal (messages.py).

Messages are asserted whole: they are ours, so a new version of the decoder library changes none."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wafermon_schema import MAX_HEARTBEAT_S, Accepted, BatchFormatError, Problem, check_batch, check_event, vectors_path
from wafermon_schema.rules import MAX_NUMBER_SCALE, number_problem, number_suspect
from wafermon_schema.samples import bad_items, good_item

VECTORS = json.loads(vectors_path().read_text())
BASE: dict[str, Any] = next(v["event"] for v in VECTORS if v["valid"])


LONE_SURROGATE = json.dumps(BASE | {"business_key": "PH"}).encode().replace(b"PH", b"\\ud800")
AT_BYTE = LONE_SURROGATE.index(b"\\ud800")


def verdict_of(raw: bytes, **clock: Any) -> tuple[str, str] | None:
    verdict = check_event(0, raw, **clock)
    return None if isinstance(verdict, Accepted) else (verdict.field, verdict.message)


def encoded(**changes: Any) -> bytes:
    return json.dumps(BASE | changes).encode()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (encoded(seq="1"), ("seq", "seq must be an integer from 0 to 9007199254740991")),
        (encoded(pid=-1), ("pid", "pid must be an integer from 0 to 4294967295")),
        (encoded(site_id=""), ("site_id", "site_id must be a string of 1 to 128 characters")),
        (
            encoded(event_kind="paused"),
            ("event_kind", "event_kind must be one of 'started', 'progress', 'heartbeat', 'finished'"),
        ),
        (
            encoded(parent_id="x"),
            ("parent_id", "parent_id must be a lower-case UUID such as 01936f0e-8a6b-7c3d-9e1f-0a1b2c3d4e5f, or null"),
        ),
        (
            encoded(app={"name": "x", "version": "1", "colour": "red"}),
            ("app.colour", "app.colour is not a field of app; see conformance/schema/event-v1.json"),
        ),
        (
            json.dumps({k: v for k, v in BASE.items() if k != "site_id"}).encode(),
            ("site_id", "site_id is required: it must be a string of 1 to 128 characters"),
        ),
        (
            encoded(error={"type": "E"}, status="failed", event_kind="finished", metrics={}),
            ("error.message", "error.message is required: it must be a string of 0 to 8192 characters"),
        ),
        (b'{"schema" 1}', ("event", "the event is not valid JSON (near byte 10)")),
        (b"[1, 2]", ("event", "the event must be a JSON object with the fields of conformance/schema/event-v1.json")),
        (
            encoded(metadata={"x": "PLACEHOLDER"}).replace(b'"PLACEHOLDER"', b"1e400"),
            ("metadata", "metadata holds a value that cannot be stored: a number beyond a 64-bit float or integer"),
        ),
        (
            LONE_SURROGATE,
            (
                "event",
                f"a string in the event holds half of a UTF-16 surrogate pair (\\u escape at byte {AT_BYTE})",
            ),
        ),
    ],
    ids=lambda x: x[0] if isinstance(x, tuple) else None,
)
def test_refusals_are_in_our_own_words(raw: bytes, expected: tuple[str, str]) -> None:
    assert verdict_of(raw) == expected


def test_no_message_carries_the_decoder_s_wording() -> None:
    """The decoder marks its messages with backticks and `$.` paths; none may reach a user."""
    for vector in VECTORS:
        verdict = check_event(0, json.dumps(vector["event"]).encode())
        if isinstance(verdict, Problem):
            assert "`" not in verdict.message and "$." not in verdict.message, verdict


@pytest.mark.parametrize(
    ("at", "words"),
    [
        ("2026-13-45T99:99:99.000000Z", "the year must be 1970-9999 and the month 01-12"),
        ("2027-02-29T08:15:30.123456Z", "2027-02 has no day 29"),
        ("2026-04-31T08:15:30.123456Z", "2026-04 has no day 31"),
        ("2026-11-23T24:00:00.000000Z", "hour 00-23, minute and second 00-59"),
        ("2026-11-23T23:60:00.000000Z", "hour 00-23, minute and second 00-59"),
        ("2026-11-23T23:59:60.000000Z", "hour 00-23, minute and second 00-59"),
        ("0000-01-01T00:00:00.000000Z", "the year must be 1970-9999"),
        ("1969-12-31T23:59:59.999999Z", "the year must be 1970-9999"),
        ("0001-01-01T00:00:00.000000Z", "the year must be 1970-9999"),
    ],
)
def test_at_must_be_a_real_time(at: str, words: str) -> None:
    got = verdict_of(encoded(at=at))
    assert got is not None and got[0] == "at" and words in got[1] and at in got[1]


@pytest.mark.parametrize(
    "at", ["2028-02-29T23:59:59.999999Z", "1970-01-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z"]
)
def test_real_edge_times_are_accepted(at: str) -> None:
    assert verdict_of(encoded(at=at)) is None


def test_the_clock_rule_applies_only_with_a_clock() -> None:
    now = datetime(2026, 11, 23, 8, 0, 0, tzinfo=UTC)
    at_limit, beyond = "2026-11-23T09:00:00.000000Z", "2026-11-23T09:00:00.000001Z"
    assert verdict_of(encoded(at=at_limit), now=now) is None
    assert verdict_of(encoded(at=beyond), now=now) == (
        "at",
        "at 2026-11-23T09:00:00.000001Z is more than 3600 s ahead of the receiver's clock "
        "(latest allowed 2026-11-23T09:00:00.000000Z)",
    )
    assert verdict_of(encoded(at=beyond), now=now, max_future_skew_s=60) is not None
    assert verdict_of(encoded(at=beyond)) is None  # no clock: no clock rule
    assert verdict_of(encoded(at="9999-12-31T23:59:59.999999Z"), now=now, max_future_skew_s=1e30) is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"business_key": "a\x00b"}, "business_key"),
        ({"app": {"name": "x\x00", "version": "1"}}, "app.name"),
        ({"metadata": {"k": ["ok", {"deep": "\x00"}]}}, "metadata.k.1.deep"),
        ({"metadata": {"bad\x00key": 1}}, "metadata.bad?key"),
    ],
)
def test_nul_is_refused_naming_its_field(changes: dict[str, Any], field: str) -> None:
    got = verdict_of(encoded(**changes))
    assert got == (field, f"{field} holds a NUL character (\\u0000), which no store can keep")


def test_an_escaped_backslash_before_u0000_is_not_nul() -> None:
    assert verdict_of(encoded(business_key="a\\u0000b")) is None  # the text \u0000, six characters


@pytest.mark.parametrize(
    "metadata",
    [
        {"wafermon.heartbeat_s": 1e20},
        {"wafermon.heartbeat_s": 2**63},
        {"wafermon": {"heartbeat_s": 1e300}},
        {"wafermon.heartbeat_s": MAX_HEARTBEAT_S + 0.5},
        {"wafermon.heartbeat_s": 0},
        {"wafermon.heartbeat_s": -5},
        {"wafermon.heartbeat_s": "60"},
        {"wafermon": {"heartbeat_s": True}},
        {"wafermon.heartbeat_s": 30, "wafermon": {"heartbeat_s": 1e20}},
    ],
)
def test_a_heartbeat_out_of_bounds_is_refused_naming_it(metadata: dict[str, Any]) -> None:
    got = verdict_of(encoded(metadata=metadata))
    assert got is not None and got[0] == "metadata.wafermon.heartbeat_s"
    assert f"must be a number of seconds above 0 and at most {MAX_HEARTBEAT_S}" in got[1]


@pytest.mark.parametrize(
    "metadata",
    [
        {"wafermon.heartbeat_s": MAX_HEARTBEAT_S},
        {"wafermon.heartbeat_s": 0.5},
        {"wafermon.heartbeat_s": None},
        {"wafermon": "a user's own value"},
        {"wafermon": {"other": 1e300}},
    ],
)
def test_a_heartbeat_within_bounds_or_absent_is_accepted(metadata: dict[str, Any]) -> None:
    assert verdict_of(encoded(metadata=metadata)) is None


@pytest.mark.parametrize(
    "bad",
    [
        b'{"schema" 1}',
        json.dumps(BASE | {"business_key": "PH"}).encode().replace(b"PH", b"\\ud800"),
        json.dumps(BASE | {"business_key": "PH"}).encode().replace(b"PH", b"caf\xe9"),
        b'{"a": tru}',
        b'{"a": 1,}',
        b"nonsense",
    ],
)
def test_an_array_item_is_judged_as_the_same_ndjson_line_is(bad: bytes) -> None:
    good = json.dumps(BASE).encode()
    array = check_batch(b"[" + good + b"," + bad + b"," + good + b"]")
    ndjson = check_batch(good + b"\n" + bad + b"\n" + good)
    assert [a.index for a in array[0]] == [a.index for a in ndjson[0]] == [0, 2]
    assert array[1] == ndjson[1] and [p.index for p in array[1]] == [1]


@pytest.mark.parametrize(
    ("number", "field"),
    [
        (b"1e-20000", "metadata"),
        (b"0.5e-16383", "metadata"),
        (b"-1E-99999", "metadata"),
        (b"0." + b"1" * 16384, "metadata"),
    ],
)
def test_a_number_no_store_can_hold_is_refused(number: bytes, field: str) -> None:
    raw = encoded(metadata={"x": "PH"}).replace(b'"PH"', number)
    got = verdict_of(raw)
    assert got is not None and got[0] == field and "digits after the decimal point; the limit is 16383" in got[1]


def test_a_number_in_a_typed_field_is_named_by_that_field() -> None:
    raw = encoded(progress="PH").replace(b'"PH"', b"1e-20000")
    assert verdict_of(raw) == (
        "progress",
        "a number needs 20000 digits after the decimal point; the limit is 16383 (write it rounded, or as a string)",
    )


@pytest.mark.parametrize(
    "number", [b"1e-16383", b"1e-400", b"0." + b"0" * 2000 + b"1", b"123456789e-9", b'"1e-20000"', b"1" * 300]
)
def test_numbers_a_store_can_hold_are_accepted(number: bytes) -> None:
    assert verdict_of(encoded(metadata={"x": "PH"}).replace(b'"PH"', number)) is None


def test_the_catalogue_of_bad_items_names_each_field() -> None:
    now = datetime.now(UTC)
    assert isinstance(check_event(0, good_item(), now=now), Accepted)
    for kind, raw in bad_items().items():
        verdict = check_event(0, raw, now=now)
        assert isinstance(verdict, Problem) and verdict.field == kind.split(":")[1], (kind, verdict)
        assert b"\n" not in raw and raw[:1] != b"["  # NDJSON and an array can both carry it


@settings(max_examples=300, deadline=None)
@given(
    fraction=st.integers(0, 20000),
    exponent=st.integers(-30000, 400),
    marker=st.sampled_from(["e", "E"]),
    leading_zeros=st.integers(0, 3),
)
def test_the_cheap_suspect_test_never_misses_an_unstorable_number(
    fraction: int, exponent: int, marker: str, leading_zeros: int
) -> None:
    sign = "-" if exponent < 0 else "+"
    point = f".{'5' * fraction}" if fraction else ""  # JSON has no "1."
    text = f"1{point}{marker}{sign}{'0' * leading_zeros}{abs(exponent)}".encode()
    raw = b'{"x": ' + text + b"}"
    unstorable = fraction - exponent > MAX_NUMBER_SCALE
    assert (number_problem(raw) is not None) == unstorable
    if unstorable:
        assert number_suspect(raw)


def test_uuids_are_no_suspects() -> None:
    assert not number_suspect(b'{"a": "01936f0e-800e-123456789012", "b": "2026-11-23T08:15:30.123456Z"}')


@pytest.mark.parametrize(
    "body",
    [
        b'[{"a": "' + b"x" * 1_000_000,
        b'[{"a": "' + b"x\\\\" * 500_000,
        b'["' + b'x\\"' * 300_000,
        b"[" + b"{" * 100_000,
    ],
)
def test_a_hostile_array_is_framed_in_linear_time(body: bytes) -> None:
    """The framing fallback (an item the decoder refuses) must not backtrack: 1 MB in well under a second."""
    import time

    started = time.perf_counter()
    with pytest.raises(BatchFormatError, match="does not end"):
        check_batch(body)
    assert time.perf_counter() - started < 5  # linear: ~0.05 s on a loaded machine; exponential: never
