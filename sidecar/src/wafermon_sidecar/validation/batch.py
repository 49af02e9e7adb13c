"""Judging a batch body: the native all-valid check, else the authority (wafermon_schema.check_batch).

The common case is a body in which every event is valid: the native check (native.py) says so
without making a Python object per event. It can only say "all valid" or "not sure"; for anything
else (an invalid event, a pretty-printed array, CR LF line ends, ...) the body goes to check_batch,
the authority the gateway uses too, which judges each item alone and names the index and field of
every bad one.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from wafermon_schema import MAX_FUTURE_SKEW_S, BatchFormatError, Problem, check_batch, check_event
from wafermon_schema.files import vectors_path
from wafermon_schema.rules import latest_at

from .crossfield import event_table
from .native import NativeCheck, build

log = logging.getLogger(__name__)

_raw_decoder = msgspec.json.Decoder(list[msgspec.Raw])  # as wafermon_schema.split_body decodes arrays
_compact_encoder = msgspec.json.Encoder()
_any_decoder = msgspec.json.Decoder()


@dataclass(slots=True)
class Verdict:
    payload: bytes  # the accepted events as NDJSON, one compact event per line (what the spool stores)
    accepted: int
    problems: list[Problem]
    total: int


# Built once at import; self_check switches it off (None) if it disagrees with the authority.
_native: NativeCheck | None = build(event_table())


def native_check_built() -> bool:
    """Whether the native check is in use (built, and not switched off by self_check)."""
    return _native is not None


def self_check() -> bool:
    """The native check must never accept a conformance vector the authority rejects: run at start-up,
    it switches the check off with a warning if it would. True when the native check is in use."""
    global _native
    if _native is None:
        return False
    try:
        vectors = json.loads(open(vectors_path()).read())  # noqa: SIM115
    except OSError:  # pragma: no cover - vectors ship with the schema package
        return True
    for vector in vectors:
        raw = json.dumps(vector["event"]).encode()
        if not isinstance(check_event(0, raw), Problem):
            continue
        if _native.count_valid(raw) != -1 or _native.count_valid_array(b"[" + raw + b"]")[1] is not None:
            log.warning("native event check disagrees on vector %r; disabled", vector.get("description"))
            _native = None
            return False
    return True


def judge(body: bytes, now: datetime | None = None) -> Verdict:
    """Split and check a batch body against the authority's rules at `now` (default: this host's clock;
    `at` may be MAX_FUTURE_SKEW_S ahead of it). Raises BatchFormatError when it is neither JSON array
    nor NDJSON."""
    stripped = body.strip()
    if not stripped:
        raise BatchFormatError("the body is empty; send a JSON array, NDJSON or one JSON object")
    now = now or datetime.now(UTC)
    native = _native
    if native is not None:
        latest = latest_at(now, MAX_FUTURE_SKEW_S)
        if stripped[:1] == b"[":
            count, ndjson = native.count_valid_array(stripped, latest)
            if ndjson is not None:
                return Verdict(ndjson, count, [], count)  # the items' own texts
            items = _items_as_lines(stripped)  # (the array path takes arrays up to 1 MiB)
            if items is not None and native.count_valid(items[0], latest) == items[1]:
                return Verdict(items[0], items[1], [], items[1])
        else:
            count = native.count_valid(stripped, latest)
            if count >= 0:
                return Verdict(stripped, count, [], count)  # the body is the spool's NDJSON as it is
    return _authority(body, now)


def _items_as_lines(array: bytes) -> tuple[bytes, int] | None:
    """A JSON array's items, split as the authority splits them, as NDJSON (their own texts, one per
    line) and their count; None when that is not possible (not an array msgspec decodes, or an item
    with a line break inside)."""
    try:
        items = _raw_decoder.decode(array)
    except (msgspec.DecodeError, RecursionError, ValueError):
        return None
    ndjson = b"\n".join(items)
    if not items or ndjson.count(b"\n") != len(items) - 1:
        return None
    return ndjson, len(items)


def _authority(body: bytes, now: datetime) -> Verdict:
    accepted, problems = check_batch(body, now=now, max_future_skew_s=MAX_FUTURE_SKEW_S)
    payload = b"\n".join(_one_line(a.raw) for a in accepted)
    return Verdict(payload, len(accepted), problems, len(accepted) + len(problems))


def _one_line(raw: bytes) -> bytes:
    """An event's bytes with no newline inside (pretty-printed input is re-encoded compactly)."""
    if b"\n" in raw or b"\r" in raw:
        return _compact_encoder.encode(_any_decoder.decode(raw))
    return raw
