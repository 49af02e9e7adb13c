"""Batch validation with a fast path in front of wafermon_schema.check_batch.

The common case is a batch in which every event is valid. Then one msgspec decode of the whole
array into the pattern-free twin model (fastmodel.py), one regex per patterned field for the whole
batch, the schema's cross-field rules and the rules beyond the schema (wafermon_schema/rules.py: a
real `at` not too far ahead of this host's clock, no NUL, storable numbers, a bounded heartbeat) say
so. Only when any of that fails does the batch go to check_batch, the authority, which judges each
item alone and names the index and field of every bad one. The fast path can only say "all valid",
and only when check_batch would say the same.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

from wafermon_schema import (
    MAX_EVENT_BYTES,
    MAX_FUTURE_SKEW_S,
    BatchFormatError,
    Problem,
    check_batch,
    check_event,
    cross_field_problem,
)
from wafermon_schema.files import vectors_path
from wafermon_schema.rules import at_problem, heartbeat_problem, latest_at, number_suspect

from .crossfield import CrossFieldTable
from .fastmodel import ObjectCheck, PatternCheck, derive
from .nativecheck import NativeCheck
from .nativecheck import build as build_native

log = logging.getLogger(__name__)

_raw_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_compact_encoder = msgspec.json.Encoder()
_any_decoder = msgspec.json.Decoder()
_metadata_decoder = msgspec.json.Decoder(dict[str, Any])

__all__ = ["BatchFormatError", "Verdict", "fast_all_valid", "judge", "native_check_built"]


@dataclass(slots=True)
class Verdict:
    payload: bytes  # the accepted events as NDJSON, one compact event per line (what the spool stores)
    accepted: int
    problems: list[Problem]
    total: int


class _FastPath:
    def __init__(self) -> None:
        derived = derive()
        self.enabled = derived is not None
        self.decoder: msgspec.json.Decoder[Any] | None = None  # a JSON array of events
        self.one: msgspec.json.Decoder[Any] | None = None  # one event
        self.checks: list[PatternCheck | ObjectCheck] = []
        self.cross_field: CrossFieldTable | None = None
        self.native: NativeCheck | None = None  # in front of the twin: no Python object per event
        if derived is not None:
            self.decoder = msgspec.json.Decoder(list[derived.twin])  # type: ignore[name-defined]
            self.one = msgspec.json.Decoder(derived.twin)
            self.checks = [*derived.checks, *([derived.objects] if derived.objects else [])]
            self.cross_field = derived.cross_field
            self.native = build_native(derived.cross_field)

    def native_count(self, ndjson: bytes, latest: str | None = None) -> int:
        """The native check's count of events when all are valid; -1 when not sure or not built."""
        return self.native.count_valid(ndjson, latest) if self.native is not None else -1

    def all_valid(self, array: bytes, count: int, latest: str | None = None) -> bool:
        events = self.decode(array)
        return events is not None and len(events) == count and self.checks_ok(events, array, latest)

    def decode(self, array: bytes) -> list[Any] | None:
        """The twins of a JSON array's events, or None when that alone shows a problem."""
        if self.decoder is None:
            return None
        try:
            events: list[Any] = self.decoder.decode(array)
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError, ValueError):
            return None  # (ValueError: e.g. invalid UTF-8 in a string) the authority judges each event
        return events

    def decode_each(self, lines: list[bytes]) -> list[Any] | None:
        """The twins of one event per line, or None when that alone shows a problem (a blank line too)."""
        if self.one is None:
            return None
        try:
            return list(map(self.one.decode, lines))
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError, ValueError):
            return None

    def checks_ok(self, events: list[Any], body: bytes, latest: str | None) -> bool:
        """What the twin's decode leaves out: patterns, metadata, cross-field rules, rules.py's rules."""
        if not all(check.ok(events) for check in self.checks):
            return False
        if self.cross_field is not None:
            if not self.cross_field.ok(events):
                return False
        # cross_field_problem only reads attributes, which the twin has under the same names.
        elif any(cross_field_problem(e) is not None for e in events):
            return False
        return rules_ok(events, body, latest)


def rules_ok(events: list[Any], body: bytes, latest: str | None) -> bool:
    """wafermon_schema/rules.py over a batch of twins (patterns already checked): True only when the
    authority's rules accept every event. NUL escapes and suspect numbers go to the authority whole."""
    if b"\\u0000" in body or number_suspect(body):
        return False
    ats = [e.at for e in events]
    if not ats:
        return True
    # A date and a time of day are real on their own: check each distinct one once, not each event.
    if any(at_problem(f"{d}T00:00:00.000000Z") for d in {a[:10] for a in ats}):
        return False
    if any(at_problem(f"2000-01-01T{t}.000000Z") for t in {a[11:19] for a in ats}):
        return False
    if latest is not None and max(ats) > latest:
        return False
    if b"heartbeat_s" in body:
        for e in events:
            raw = bytes(e.metadata)
            if b"heartbeat_s" in raw and heartbeat_problem(_metadata_decoder.decode(raw)) is not None:
                return False
    return True


_fast = _FastPath()


def native_check_built() -> bool:
    """Whether the native check is in use (built, and not switched off by self_check)."""
    return _fast.native is not None


def fast_all_valid(array: bytes, count: int, latest: str | None = None) -> bool:
    return _fast.all_valid(array, count, latest)


def self_check() -> bool:
    """The fast path must never accept a vector the authority rejects; switch it off if it would."""
    if not _fast.enabled:
        return False
    try:
        vectors = json.loads(open(vectors_path()).read())  # noqa: SIM115
    except OSError:  # pragma: no cover - vectors ship with the schema package
        return True
    for vector in vectors:
        raw = json.dumps(vector["event"]).encode()
        authority = check_event(0, raw)
        if not isinstance(authority, Problem):
            continue
        if _fast.native_count(raw) != -1:
            log.warning("native event check disagrees on vector %r; disabled", vector.get("description"))
            _fast.native = None
        if fast_all_valid(b"[" + raw + b"]", 1) or _fast_ndjson(raw, None) is not None:
            log.warning("validation fast path disagrees on vector %r; disabled", vector.get("description"))
            _fast.decoder = _fast.one = None
            _fast.native = None
            _fast.enabled = False
            return False
    return True


def _one_line(raw: bytes) -> bytes:
    """An event's bytes with no newline inside (pretty-printed input is re-encoded compactly)."""
    if b"\n" in raw or b"\r" in raw:
        return _compact_encoder.encode(_any_decoder.decode(raw))
    return raw


def _fast_array(array: bytes, latest: str) -> Verdict | None:
    """The verdict on a JSON array body when every event is valid; None sends it to the authority."""
    if _fast.native is not None:
        count, ndjson = _fast.native.count_valid_array(array, latest)
        if ndjson is not None:
            return Verdict(ndjson, count, [], count)
    try:
        items = _raw_decoder.decode(array)  # msgspec.Raw: views into the body, each event's own bytes
    except (msgspec.DecodeError, RecursionError):
        return None  # the authority splits by framing alone and judges each item, as an NDJSON line
    if not items:
        return Verdict(b"", 0, [], 0)
    if max(map(len, items)) > MAX_EVENT_BYTES:
        return None
    events = _fast.decode(array)
    if events is None or len(events) != len(items) or not _fast.checks_ok(events, array, latest):
        return None
    if b"\n" in array or b"\r" in array:
        return Verdict(b"\n".join([_one_line(bytes(raw)) for raw in items]), len(items), [], len(items))
    return Verdict(b"\n".join(items), len(items), [], len(items))


def _fast_ndjson(body: bytes, latest: str | None) -> Verdict | None:
    """The verdict on an NDJSON body when every event is valid; None sends it to the authority.

    Each line is decoded on its own, so a line holding anything but exactly one object (two objects, or
    half of a pretty-printed one) fails here as it does in the authority."""
    count = _fast.native_count(body, latest)
    if count >= 0:
        return Verdict(body, count, [], count)  # the body is the spool's NDJSON as it is
    lines = body.split(b"\n")
    if max(map(len, lines)) > MAX_EVENT_BYTES:
        return None
    events = _fast.decode_each(lines)
    if events is None or not _fast.checks_ok(events, body, latest):
        return None
    if b"\r" in body:
        return Verdict(b"\n".join(map(_one_line, lines)), len(lines), [], len(lines))
    return Verdict(body, len(lines), [], len(lines))  # the body is the spool's NDJSON as it is


def judge(body: bytes, now: datetime | None = None) -> Verdict:
    """Split and check a batch body against the authority's rules at `now` (default: this host's clock;
    `at` may be MAX_FUTURE_SKEW_S ahead of it). Raises BatchFormatError when it is neither JSON array
    nor NDJSON."""
    stripped = body.strip()
    if not stripped:
        raise BatchFormatError("the body is empty; send a JSON array, NDJSON or one JSON object")
    now = now or datetime.now(UTC)
    latest = latest_at(now, MAX_FUTURE_SKEW_S)
    verdict = _fast_array(stripped, latest) if stripped[:1] == b"[" else _fast_ndjson(stripped, latest)
    return verdict if verdict is not None else _slow(body, now)


def _slow(body: bytes, now: datetime) -> Verdict:
    accepted, problems = check_batch(body, now=now, max_future_skew_s=MAX_FUTURE_SKEW_S)
    payload = b"\n".join(_one_line(a.raw) for a in accepted)
    return Verdict(payload, len(accepted), problems, len(accepted) + len(problems))
