"""Batch validation with a fast path in front of wafermon_schema.check_batch.

The common case is a batch in which every event is valid. Then one msgspec decode of the whole
array as list[Event] (C code, no per-event Python objects for the split) plus the cross-field rules
is enough; only when that fails do we fall back to check_batch, which judges each item alone and
names the index and field of every bad one. Both paths apply the same msgspec model, so the verdict
is the same; the fast path only changes the cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from wafermon_schema import MAX_EVENT_BYTES, BatchFormatError, Problem, check_batch, cross_field_problem
from wafermon_schema.model import Event

_batch_decoder = msgspec.json.Decoder(list[Event])
_raw_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_compact_encoder = msgspec.json.Encoder()
_any_decoder = msgspec.json.Decoder()

__all__ = ["BatchFormatError", "Verdict", "judge"]


@dataclass(slots=True)
class Verdict:
    payload: bytes  # the accepted events as NDJSON, one compact event per line (what the spool stores)
    accepted: int
    problems: list[Problem]
    total: int


def _one_line(raw: bytes) -> bytes:
    """An event's bytes with no newline inside (pretty-printed input is re-encoded compactly)."""
    if b"\n" in raw or b"\r" in raw:
        return _compact_encoder.encode(_any_decoder.decode(raw))
    return raw


def _items(body: bytes) -> tuple[list[bytes], bytes | None]:
    """(items as bytes, the body as one JSON array if it already is one)."""
    stripped = body.strip()
    if stripped[:1] == b"[":
        try:
            return [bytes(r) for r in _raw_decoder.decode(stripped)], stripped
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
    try:
        events = _batch_decoder.decode(array)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return _slow(body, len(items))
    if len(events) != len(items) or any(cross_field_problem(e) is not None for e in events):
        return _slow(body, len(items))
    if b"\n" in array or b"\r" in array:
        items = [_one_line(raw) for raw in items]
    return Verdict(b"\n".join(items), len(items), [], len(items))


def _slow(body: bytes, total: int) -> Verdict:
    accepted, problems = check_batch(body)
    payload = b"\n".join(_one_line(a.raw) for a in accepted)
    return Verdict(payload, len(accepted), problems, max(total, len(accepted) + len(problems)))
