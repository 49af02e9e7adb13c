"""The flat record the csv and json export backends write for one event (conformance/backends/csv.md, json.md).

FIELDS is normative: its order is the CSV column order and the key order of a JSON record. The seeds'
flattened fields come first, then the ids and everything else a wafermon.event/1 carries; nested
metadata stays one value (an object in JSON, its JSON text in CSV).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import msgspec

#: The record's fields, in order: the CSV header row and the JSON record's keys (before "event").
FIELDS: list[str] = [
    "timestamp", "site_id", "app_name", "entity_type", "event_kind", "status", "duration_s", "cpu_user_s",
    "mem_max_mb", "event_id", "entity_id", "parent_id", "seq", "business_key", "sub_key", "app_id",
    "app_version", "progress", "cpu_sys_s", "error_type", "error_message", "host", "pid", "sdk_lang",
    "sdk_version", "trace_id", "span_id", "metadata",
]  # fmt: skip
EVENT_ID_COLUMN = FIELDS.index("event_id")
_NONE: Mapping[str, Any] = {}


def _part(event: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = event.get(key)
    return value if isinstance(value, Mapping) else _NONE


def flat_record(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event's flat fields (FIELDS order) with their JSON types; absent values are None, metadata an object.
    Written out field by field: this runs once per event per export."""
    get = event.get
    app, metrics, error = _part(event, "app"), _part(event, "metrics"), _part(event, "error")
    sdk, trace = _part(event, "sdk"), _part(event, "trace")
    metadata = get("metadata")
    return {
        "timestamp": get("at"), "site_id": get("site_id"), "app_name": app.get("name"),
        "entity_type": get("entity_type"), "event_kind": get("event_kind"), "status": get("status"),
        "duration_s": metrics.get("duration_s"), "cpu_user_s": metrics.get("cpu_user_s"),
        "mem_max_mb": metrics.get("mem_max_mb"), "event_id": get("event_id"), "entity_id": get("entity_id"),
        "parent_id": get("parent_id"), "seq": get("seq"), "business_key": get("business_key"),
        "sub_key": get("sub_key"), "app_id": app.get("id"), "app_version": app.get("version"),
        "progress": get("progress"), "cpu_sys_s": metrics.get("cpu_sys_s"), "error_type": error.get("type"),
        "error_message": error.get("message"), "host": get("host"), "pid": get("pid"),
        "sdk_lang": sdk.get("lang"), "sdk_version": sdk.get("version"), "trace_id": trace.get("trace_id"),
        "span_id": trace.get("span_id"), "metadata": {} if metadata is None else metadata,
    }  # fmt: skip


def csv_text(value: Any) -> str:
    """One CSV cell: "" for null, strings as they are, numbers and booleans as JSON writes them, objects
    and arrays as compact JSON text (keys sorted, unicode kept)."""
    if value is None:
        return ""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is int or kind is float:  # repr is JSON's spelling of a finite number (2048.0, 3, 1e-07)
        return repr(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def csv_cells(event: Mapping[str, Any]) -> list[str]:
    """The event as one CSV row (FIELDS order)."""
    return [value if type(value) is str else csv_text(value) for value in flat_record(event).values()]


def json_record(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event as one JSON export record: the flat fields, then the whole event under "event"."""
    record = flat_record(event)
    record["event"] = event
    return record


# --- the fast path from the spool's bytes (one typed decode; the event itself is not re-encoded) -----


class _App(msgspec.Struct, frozen=True):
    name: Any = None
    id: Any = None
    version: Any = None


class _Metrics(msgspec.Struct, frozen=True):
    duration_s: Any = None
    cpu_user_s: Any = None
    cpu_sys_s: Any = None
    mem_max_mb: Any = None


class _Error(msgspec.Struct, frozen=True):
    type: Any = None
    message: Any = None


class _Sdk(msgspec.Struct, frozen=True):
    lang: Any = None
    version: Any = None


class _Trace(msgspec.Struct, frozen=True):
    trace_id: Any = None
    span_id: Any = None


class _Event(msgspec.Struct):
    at: Any = None
    site_id: Any = None
    app: _App = _App()
    entity_type: Any = None
    event_kind: Any = None
    status: Any = None
    metrics: _Metrics = _Metrics()
    event_id: Any = None
    entity_id: Any = None
    parent_id: Any = None
    seq: Any = None
    business_key: Any = None
    sub_key: Any = None
    progress: Any = None
    error: _Error = _Error()
    host: Any = None
    pid: Any = None
    sdk: _Sdk = _Sdk()
    trace: _Trace = _Trace()
    metadata: Any = None


_typed = msgspec.json.Decoder(_Event)
_untyped = msgspec.json.Decoder()
_compact = msgspec.json.Encoder()


def flat_values(raw: bytes) -> list[Any] | None:
    """flat_record(event).values() straight from the event's JSON bytes; None when they are not a JSON
    object. A null or non-object app / metrics / error / sdk / trace reads as absent, as in flat_record."""
    try:
        e = _typed.decode(raw)
    except msgspec.ValidationError:  # e.g. "metrics": null: the general path
        try:
            event = _untyped.decode(raw)
        except msgspec.DecodeError:
            return None
        return list(flat_record(event).values()) if isinstance(event, dict) else None
    except msgspec.DecodeError:
        return None
    a, m, err, sdk, tr = e.app, e.metrics, e.error, e.sdk, e.trace
    return [
        e.at, e.site_id, a.name, e.entity_type, e.event_kind, e.status, m.duration_s, m.cpu_user_s, m.mem_max_mb,
        e.event_id, e.entity_id, e.parent_id, e.seq, e.business_key, e.sub_key, a.id, a.version, e.progress,
        m.cpu_sys_s, err.type, err.message, e.host, e.pid, sdk.lang, sdk.version, tr.trace_id, tr.span_id,
        {} if e.metadata is None else e.metadata,
    ]  # fmt: skip


def csv_cells_of(values: list[Any]) -> list[str]:
    """flat_values as one CSV row."""
    return [value if type(value) is str else csv_text(value) for value in values]


def json_line(values: list[Any], raw: bytes) -> bytes:
    """One compact JSON export record: the flat fields, then the event's own bytes under "event"."""
    record: dict[str, Any] = dict(zip(FIELDS, values, strict=True))
    record["event"] = msgspec.Raw(raw)
    return _compact.encode(record)
