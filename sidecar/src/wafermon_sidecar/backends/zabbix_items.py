"""Events → Zabbix trapper values (conformance/backends/zabbix.md is the normative shape).

Pure functions, no I/O: the zabbix backend and the conformance vectors share them.

Per event (P = key_prefix, E = entity_type `job` or `subjob`), on the configured host:

- `started`  → `P.E.started` = 1
- `finished` → `P.E.finished` = metrics.duration_s (seconds; not sent when the event has none)
- status `failed` → `P.E.failed` = 1 and `P.E.error` = a JSON object (ids, keys, app, site, error, metadata)
- `finished` → `P.E.cpu_user_s`, `P.E.cpu_sys_s`, `P.E.mem_max_mb` = those metrics, each when present

clock/ns come from the event's own time (`at`), so history shows when it happened, not when it
was delivered; the last three digits of ns (below the event's microsecond) are CRC-32(event_id) mod
1000, so two events of one key in the same microsecond rarely share (clock, ns) — Zabbix's history
key (itemid, clock, ns) — while a replay of one event always does (and Zabbix 6.0 skips it).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

#: the item names a config may choose from (`items`), in the order an event's values are made
ITEM_NAMES = ("started", "finished", "failed", "error", "cpu_user_s", "cpu_sys_s", "mem_max_mb")
METRIC_ITEMS = ("cpu_user_s", "cpu_sys_s", "mem_max_mb")
#: the longest `error` value in UTF-8 bytes: Zabbix keeps at most 65535 characters of a text value
#: (ZBX_HISTORY_TEXT_VALUE_LEN); above this the metadata is left out (`"metadata_truncated": true`)
MAX_TEXT_BYTES = 65_000
#: characters of the error message kept when even without the metadata the value is too long
MAX_ERROR_MESSAGE = 4_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_encode = msgspec.json.Encoder().encode


class ItemError(ValueError):
    """This event cannot become Zabbix values; the message says which field and why."""


@dataclass(frozen=True)
class TrapperValue:
    """One value for Zabbix: item `key` on `host` at `clock` s + `ns` ns since the epoch (UTC)."""

    host: str
    key: str
    value: str
    clock: int
    ns: int

    def as_json(self) -> dict[str, Any]:
        """The value as one element of the sender request's `data` array."""
        return {"host": self.host, "key": self.key, "value": self.value, "clock": self.clock, "ns": self.ns}


def event_time(at: object, event_id: str) -> tuple[int, int]:
    """(clock, ns) for the RFC 3339 time `at`: whole seconds since the epoch, and the microseconds as
    ns plus CRC-32(event_id) mod 1000. ItemError when `at` is no time with an offset."""
    if not isinstance(at, str):
        raise ItemError(f"`at` must be an RFC 3339 time, got {at!r}")
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        raise ItemError(f"`at` is not an RFC 3339 time: {at!r}") from None
    if moment.tzinfo is None:
        raise ItemError(f"`at` has no UTC offset: {at!r}")
    since = moment - _EPOCH
    clock = since.days * 86_400 + since.seconds
    if not 0 <= clock < 2**31:
        raise ItemError(f"`at` is outside what Zabbix stores (1970-2038): {at!r}")
    return clock, since.microseconds * 1000 + zlib.crc32(event_id.encode()) % 1000


def number_text(value: object, field: str) -> str:
    """The text Zabbix gets for a numeric value: integers as such, floats in their shortest round-trip
    form. ItemError for anything that is not a finite number (Zabbix would accept it over the wire
    and then mark the item unsupported, dropping the value silently)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ItemError(f"{field} must be a number for Zabbix's numeric item, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ItemError(f"{field} must be a finite number, got {value!r}")
    return repr(value) if isinstance(value, float) else str(value)


def error_text(event: Mapping[str, Any]) -> str:
    """The `error` item's value: a compact JSON object telling which job failed and why."""
    record = {
        "event_id": event.get("event_id"),
        "entity_id": event.get("entity_id"),
        "parent_id": event.get("parent_id"),
        "business_key": event.get("business_key"),
        "sub_key": event.get("sub_key"),
        "app": (event.get("app") or {}).get("name") if isinstance(event.get("app"), Mapping) else None,
        "site_id": event.get("site_id"),
        "at": event.get("at"),
        "error": event.get("error"),
        "metadata": event.get("metadata"),
    }
    text = _encode(record)
    if len(text) > MAX_TEXT_BYTES:
        record["metadata"] = None
        record["metadata_truncated"] = True
        text = _encode(record)
        error = record["error"] if isinstance(record["error"], Mapping) else {}
        if len(text) > MAX_TEXT_BYTES:  # a huge error message: keep its start
            message = str(error.get("message", ""))[:MAX_ERROR_MESSAGE]
            record["error"] = {"type": error.get("type"), "message": message, "message_truncated": True}
            text = _encode(record)
    return text.decode()


def to_values(event: Mapping[str, Any], host: str, key_prefix: str, items: frozenset[str]) -> list[TrapperValue]:
    """The values one event becomes (possibly none: e.g. a heartbeat). ItemError when a field the
    values need is missing or has the wrong type."""
    entity = event.get("entity_type")
    if entity not in ("job", "subjob"):
        raise ItemError(f"entity_type must be 'job' or 'subjob', got {entity!r}")
    event_id = event.get("event_id")
    if not isinstance(event_id, str):
        raise ItemError(f"event_id must be a string, got {event_id!r}")
    clock, ns = event_time(event.get("at"), event_id)
    kind = event.get("event_kind")
    metrics = event.get("metrics") or {}
    if not isinstance(metrics, Mapping):
        raise ItemError(f"metrics must be an object, got {metrics!r}")
    named: list[tuple[str, str]] = []
    if kind == "started":
        named.append(("started", "1"))
    if kind == "finished" and "duration_s" in metrics:
        named.append(("finished", number_text(metrics["duration_s"], "metrics.duration_s")))
    if event.get("status") == "failed":
        named += [("failed", "1"), ("error", error_text(event))]
    if kind == "finished":
        named += [(m, number_text(metrics[m], f"metrics.{m}")) for m in METRIC_ITEMS if m in metrics]
    prefix = f"{key_prefix}.{entity}."
    return [TrapperValue(host, prefix + name, value, clock, ns) for name, value in named if name in items]
