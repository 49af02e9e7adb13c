"""Batch validation with a fast path in front of wafermon_schema.check_batch.

The common case is a batch in which every event is valid. Then one msgspec decode of the whole
array into the pattern-free twin model (fastmodel.py), one regex per patterned field for the whole
batch, and the schema's cross-field rules say so. Only when any of that fails does the batch go to
check_batch, the authority, which judges each item alone and names the index and field of every bad
one. The fast path can only say "all valid", and only when check_batch would say the same.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import msgspec

from wafermon_schema import MAX_EVENT_BYTES, BatchFormatError, Problem, check_batch, check_event, cross_field_problem
from wafermon_schema.files import vectors_path

from .crossfield import CrossFieldTable
from .fastmodel import ObjectCheck, PatternCheck, derive

log = logging.getLogger(__name__)

_raw_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_compact_encoder = msgspec.json.Encoder()
_any_decoder = msgspec.json.Decoder()

__all__ = ["BatchFormatError", "Verdict", "fast_all_valid", "judge"]


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
        self.decoder: msgspec.json.Decoder[Any] | None = None
        self.checks: list[PatternCheck | ObjectCheck] = []
        self.cross_field: CrossFieldTable | None = None
        if derived is not None:
            self.decoder = msgspec.json.Decoder(list[derived.twin])  # type: ignore[name-defined]
            self.checks = [*derived.checks, *([derived.objects] if derived.objects else [])]
            self.cross_field = derived.cross_field

    def all_valid(self, array: bytes, count: int) -> bool:
        if self.decoder is None:
            return False
        try:
            events = self.decoder.decode(array)
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError, ValueError):
            return False  # (ValueError: e.g. invalid UTF-8 in a string) the authority judges each event
        if len(events) != count:
            return False
        if not all(check.ok(events) for check in self.checks):
            return False
        if self.cross_field is not None:
            return self.cross_field.ok(events)
        # cross_field_problem only reads attributes, which the twin has under the same names.
        return not any(cross_field_problem(e) is not None for e in events)


_fast = _FastPath()


def fast_all_valid(array: bytes, count: int) -> bool:
    return _fast.all_valid(array, count)


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
        if fast_all_valid(b"[" + raw + b"]", 1) and isinstance(authority, Problem):
            log.warning("validation fast path disagrees on vector %r; disabled", vector.get("description"))
            _fast.decoder = None
            _fast.enabled = False
            return False
    return True


def _one_line(raw: bytes) -> bytes:
    """An event's bytes with no newline inside (pretty-printed input is re-encoded compactly)."""
    if b"\n" in raw or b"\r" in raw:
        return _compact_encoder.encode(_any_decoder.decode(raw))
    return raw


def _items(body: bytes) -> tuple[list[Any], bytes | None]:
    """(items as bytes-like objects, the body as one JSON array if it already is one)."""
    stripped = body.strip()
    if stripped[:1] == b"[":
        try:
            # msgspec.Raw items are views into the body: no copy until they are joined.
            return _raw_decoder.decode(stripped), stripped
        except msgspec.DecodeError as exc:
            raise BatchFormatError(f"the body is not a valid JSON array: {exc}") from None
    lines = [line for line in stripped.split(b"\n") if line.strip()]
    return lines, None


def judge(body: bytes) -> Verdict:
    """Split and check a batch body. Raises BatchFormatError when it is neither JSON array nor NDJSON."""
    if not body.strip():
        raise BatchFormatError("the body is empty; send a JSON array, NDJSON or one JSON object")
    items, as_array = _items(body)
    if not items:
        return Verdict(b"", 0, [], 0)
    if len(body) > MAX_EVENT_BYTES and max(map(len, items)) > MAX_EVENT_BYTES:
        return _slow(body, len(items))
    array = as_array if as_array is not None else b"[" + b",".join(items) + b"]"
    if not _fast.all_valid(array, len(items)):
        return _slow(body, len(items))
    if b"\n" in array or b"\r" in array:
        items = [_one_line(bytes(raw)) for raw in items]
    return Verdict(b"\n".join(items), len(items), [], len(items))


def _slow(body: bytes, total: int) -> Verdict:
    accepted, problems = check_batch(body)
    payload = b"\n".join(_one_line(a.raw) for a in accepted)
    return Verdict(payload, len(accepted), problems, max(total, len(accepted) + len(problems)))
