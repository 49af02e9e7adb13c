"""The flat record the csv and json export backends write for one event (conformance/backends/csv.md, json.md).

FIELDS is normative: its order is the CSV column order and the key order of a JSON record. The seeds'
flattened fields come first, then the ids and everything else a wafermon.event/1 carries; nested
metadata stays one value (an object in JSON, its JSON text in CSV).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# (field, where it comes from: a top-level key, or "outer.inner")
_SOURCES: list[tuple[str, str]] = [
    ("timestamp", "at"),
    ("site_id", "site_id"),
    ("app_name", "app.name"),
    ("entity_type", "entity_type"),
    ("event_kind", "event_kind"),
    ("status", "status"),
    ("duration_s", "metrics.duration_s"),
    ("cpu_user_s", "metrics.cpu_user_s"),
    ("mem_max_mb", "metrics.mem_max_mb"),
    ("event_id", "event_id"),
    ("entity_id", "entity_id"),
    ("parent_id", "parent_id"),
    ("seq", "seq"),
    ("business_key", "business_key"),
    ("sub_key", "sub_key"),
    ("app_id", "app.id"),
    ("app_version", "app.version"),
    ("progress", "progress"),
    ("cpu_sys_s", "metrics.cpu_sys_s"),
    ("error_type", "error.type"),
    ("error_message", "error.message"),
    ("host", "host"),
    ("pid", "pid"),
    ("sdk_lang", "sdk.lang"),
    ("sdk_version", "sdk.version"),
    ("trace_id", "trace.trace_id"),
    ("span_id", "trace.span_id"),
    ("metadata", "metadata"),
]

#: The record's fields, in order: the CSV header row and the JSON record's keys (before "event").
FIELDS: list[str] = [name for name, _ in _SOURCES]
EVENT_ID_COLUMN = FIELDS.index("event_id")


def _lookup(event: Mapping[str, Any], source: str) -> Any:
    outer, _, inner = source.partition(".")
    value = event.get(outer)
    if not inner:
        return value
    return value.get(inner) if isinstance(value, Mapping) else None


def flat_record(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event's flat fields (FIELDS order) with their JSON types; absent values are None, metadata an object."""
    record = {name: _lookup(event, source) for name, source in _SOURCES}
    if record["metadata"] is None:
        record["metadata"] = {}
    return record


def csv_text(value: Any) -> str:
    """One CSV cell: "" for null, strings as they are, numbers and booleans as JSON writes them, objects
    and arrays as compact JSON text (keys sorted, unicode kept)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def csv_cells(event: Mapping[str, Any]) -> list[str]:
    """The event as one CSV row (FIELDS order)."""
    return [csv_text(value) for value in flat_record(event).values()]


def json_record(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event as one JSON export record: the flat fields, then the whole event under "event"."""
    record = flat_record(event)
    record["event"] = event
    return record
