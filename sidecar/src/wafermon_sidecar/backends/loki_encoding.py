"""How events become Loki push requests (the normative description: conformance/backends/loki.md).

- Stream labels: `site` (site_id), `app` (app.name), `entity_type`, `status`, plus the configured
  external labels. Low-cardinality only: never an id, a business key, a host or metadata.
- Line: the event as canonical JSON, RFC 8785 (JCS): object keys sorted by their UTF-16 code units, no
  white space, strings escaped as JCS says, numbers in JCS's (ECMAScript) form (`512.0` → `512`). One
  extension: an integer outside ±(2^53 − 1), which JCS cannot express, is written with all its digits.
- Timestamp: the event's `at` (RFC 3339 UTC, microseconds) as a string of Unix nanoseconds.
- Pushes: the entries of a batch sorted by (timestamp, position in the batch), then cut into pushes
  of at most `max_push_bytes` body bytes, so each stream's entries are in time order within a push
  and from one push to the next. In a body, streams are ordered by their labels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import msgspec
import rfc8785

#: the event fields that become stream labels: label name → path in the event
EVENT_LABELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("site", ("site_id",)),
    ("app", ("app", "name")),
    ("entity_type", ("entity_type",)),
    ("status", ("status",)),
)
LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Above this, a character's UTF-16 sort order (JCS's) may differ from the code-point order msgspec sorts by.
_LAST_BMP = "\uffff"
_VALUE_OVERHEAD = len(b'{"stream":,"values":[]}') + 1
_BODY_OVERHEAD = len(b'{"streams":[]}')


class RecordError(ValueError):
    """This event cannot be written as a Loki entry (the message says why, in our words)."""


@lru_cache(maxsize=4096)
def _jcs_number(text: str) -> msgspec.Raw:
    """A JSON float literal in JCS's form (rfc8785 formats it)."""
    try:
        return msgspec.Raw(rfc8785.dumps(float(text)))
    except rfc8785.CanonicalizationError:
        raise RecordError(f"the number {text} has no canonical JSON form (not finite)") from None


_decoder = msgspec.json.Decoder(float_hook=_jcs_number)
_encoder = msgspec.json.Encoder(order="sorted")


def _utf16_sorted(value: Any) -> Any:
    """value with every object pre-encoded with its keys in UTF-16 order (the rare slow path)."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: item[0].encode("utf-16-be"))
        members = [_encoder.encode(k) + b":" + _encoder.encode(_utf16_sorted(v)) for k, v in items]
        return msgspec.Raw(b"{" + b",".join(members) + b"}")
    if isinstance(value, list):
        return [_utf16_sorted(v) for v in value]
    return value


def decode(raw: bytes) -> Any:
    """The event's JSON decoded, floats already in their canonical form (msgspec.Raw). Raises
    RecordError for a number without one."""
    try:
        return _decoder.decode(raw)
    except msgspec.DecodeError as exc:
        raise RecordError(f"the event cannot be decoded: {exc}") from None


def canonical_line(event: Any) -> str:
    """The event as canonical JSON (module docstring); `event` is decode(raw)."""
    line = _encoder.encode(event).decode()
    if not line.isascii() and max(line) > _LAST_BMP:  # only then may UTF-16 order differ: sort again
        line = _encoder.encode(_utf16_sorted(event)).decode()
    return line


def timestamp_ns(at: object) -> int:
    """Unix nanoseconds of an RFC 3339 UTC time (`2026-11-30T12:00:00.123456Z`). Raises RecordError."""
    if not isinstance(at, str):
        raise RecordError(f"field 'at' must be an RFC 3339 time string, got {at!r}")
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise RecordError(f"field 'at' is not an RFC 3339 time: {at!r}") from None
    if moment.tzinfo is None:
        raise RecordError(f"field 'at' has no time zone: {at!r}")
    return (moment - _EPOCH) // _MICROSECOND * 1000


def stream_labels(event: Any, external: dict[str, str]) -> dict[str, str]:
    """The stream's labels (EVENT_LABELS from the event, then the external ones). Raises RecordError
    when a label's field is missing or empty."""
    labels = dict(external)
    for name, path in EVENT_LABELS:
        value = event
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if not isinstance(value, str) or not value:
            raise RecordError(f"field '{'.'.join(path)}' (stream label {name!r}) is missing or not a non-empty string")
        labels[name] = value
    return labels


@dataclass(frozen=True, slots=True)
class Entry:
    """One event as a Loki entry. `value` is the encoded `["<ns>","<line>"]` pair as it goes in a body."""

    index: int  # position in the batch
    stream: bytes  # the labels as a JSON object, keys sorted
    ts: int
    value: bytes


def entry(raw: bytes, index: int, external: dict[str, str]) -> Entry:
    """The entry for the event `raw` (its JSON bytes) at batch position `index`. Raises RecordError."""
    event = decode(raw)
    if not isinstance(event, dict):
        raise RecordError("the event is not a JSON object")
    ts = timestamp_ns(event.get("at"))
    line = canonical_line(event)
    stream = _encoder.encode(stream_labels(event, external))
    return Entry(index, stream, ts, b'["' + str(ts).encode() + b'",' + _encoder.encode(line) + b"]")


def pushes(entries: list[Entry], max_push_bytes: int) -> list[list[Entry]]:
    """The entries in time order (ties in batch order), cut into consecutive pushes whose body
    (push_body) is at most max_push_bytes; an entry larger than that goes alone."""
    ordered = sorted(entries, key=lambda e: (e.ts, e.index))
    result: list[list[Entry]] = []
    current: list[Entry] = []
    streams: set[bytes] = set()
    size = _BODY_OVERHEAD
    for item in ordered:
        cost = len(item.value) + 1 + (0 if item.stream in streams else len(item.stream) + _VALUE_OVERHEAD)
        if current and size + cost > max_push_bytes:
            result.append(current)
            current, streams, size = [], set(), _BODY_OVERHEAD
            cost = len(item.value) + 1 + len(item.stream) + _VALUE_OVERHEAD
        current.append(item)
        streams.add(item.stream)
        size += cost
    if current:
        result.append(current)
    return result


def push_body(push: list[Entry]) -> bytes:
    """`{"streams": [...]}` for entries given in time order: one stream object per label set (ordered
    by labels), its values in the given order."""
    by_stream: dict[bytes, list[bytes]] = {}
    for item in push:
        by_stream.setdefault(item.stream, []).append(item.value)
    parts = [
        b'{"stream":' + stream + b',"values":[' + b",".join(values) + b"]}"
        for stream, values in sorted(by_stream.items())
    ]
    return b'{"streams":[' + b",".join(parts) + b"]}"
