"""A catalogue of encoded events, one per way an event can be refused, for receivers' tests.

Each item is one line of JSON-ish text that NDJSON and a JSON array can both carry (no newline, no
top-level comma, never starting with `[`), so a test can send the same items either way and expect
the same verdict per item. `good_item()` gives a valid event with a fresh event_id and a recent `at`.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from .files import vectors_path


def _base() -> dict[str, Any]:
    vectors = json.loads(vectors_path().read_text())
    event: dict[str, Any] = next(v["event"] for v in vectors if v["valid"])
    return event


def _recent() -> str:
    moment = datetime.now(UTC) - timedelta(minutes=5)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def good_item(**changes: Any) -> bytes:
    """A valid event (the first valid vector) with a fresh event_id and entity_id, `at` 5 minutes ago."""
    fields = {"event_id": str(uuid.uuid4()), "entity_id": str(uuid.uuid4()), "at": _recent()}
    return json.dumps(_base() | fields | changes, separators=(",", ":")).encode()


def _with(placeholder_field: str, text: bytes) -> bytes:
    return good_item(**{placeholder_field: "PLACEHOLDER"}).replace(b'"PLACEHOLDER"', text)


def bad_items() -> dict[str, bytes]:
    """Every kind of refused item, by kind; the field a receiver names is in the kind after the colon."""
    deep = b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}"
    return {
        "unknown field:surprise": good_item(surprise=1),
        "wrong type:seq": good_item(seq="1"),
        "missing field:site_id": json.dumps({k: v for k, v in json.loads(good_item()).items() if k != "site_id"})
        .replace(", ", ",")
        .encode(),
        "enum:event_kind": good_item(event_kind="paused"),
        "pattern:event_id": good_item(event_id="01936F0E-8A6B-7C3D-9E1F-0A1B2C3D4E5F"),
        "length:site_id": good_item(site_id=""),
        "range:progress": good_item(progress=2),
        "cross-field:metrics": good_item(event_kind="finished", status="succeeded"),
        "nested unknown field:app.colour": good_item(app={"name": "x", "version": "1", "colour": "red"}),
        "not a real time:at": good_item(at="2026-13-45T99:99:99.000000Z"),
        "before 1970:at": good_item(at="1969-12-31T23:59:59.999999Z"),
        "far in the future:at": good_item(at="9999-12-31T23:59:59.999999Z"),
        "NUL in a string:business_key": good_item(business_key="a\x00b"),
        "NUL in a key:metadata.k?": good_item(metadata={"k\x00": 1}),
        "huge heartbeat:metadata.wafermon.heartbeat_s": good_item(metadata={"wafermon.heartbeat_s": 1e20}),
        "huge nested heartbeat:metadata.wafermon.heartbeat_s": good_item(metadata={"wafermon": {"heartbeat_s": 1e300}}),
        "unstorable number:metadata": _with("metadata", b'{"x":1e-20000}'),
        "number out of range:metadata": _with("metadata", b'{"x":1e400}'),
        "too many digits:metadata": _with("metadata", b'{"x":' + b"9" * 5000 + b"}"),
        "nested too deeply:metadata": _with("metadata", deep),
        "invalid UTF-8:event": _with("business_key", b'"caf\xe9"'),
        "lone surrogate:event": _with("business_key", b'"\\ud800"'),
        "malformed JSON:event": b'{"schema" 1}',
        "bad literal:event": b'{"schema": tru}',
        "trailing comma:event": b'{"schema": "wafermon.event/1",}',
        "a number:event": b"42",
        "a string:event": b'"event"',
        "too big:event": good_item(metadata={"blob": "x" * 100_000}),
    }
