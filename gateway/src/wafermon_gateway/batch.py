"""Turn an ingest request body into validated events and per-event problems.

Accepts the managed envelope `{"events": [...], "source": ..., "site_id": ...}`, a bare JSON array,
NDJSON, or one event object; optionally gzip-compressed. Each event is judged on its own (the
shared wafermon_schema validator plus the checks only a store needs), so one bad event never
poisons its batch. What makes an event valid is wafermon_schema's alone (the sidecar asks the same
authority, so what it acknowledges this gateway stores); only the envelope's site_id is checked here.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime

import msgspec

from wafermon_schema import BatchFormatError, Problem, check_event, split_body
from wafermon_schema.validate import split_object_members

from .reducer import Facts, facts_from_event
from .settings import Settings


class BodyError(Exception):
    """The request as a whole is unusable; status is the HTTP status to answer with."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class Prepared:
    facts: Facts
    raw: bytes
    at: datetime


ENVELOPE_FIELDS = frozenset({"events", "source", "site_id"})


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return body
    if enc not in ("gzip", "x-gzip"):
        raise BodyError(415, f"Content-Encoding {enc!r} is not supported; use gzip or none", "Content-Encoding")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error:
        raise BodyError(400, "the body is not valid gzip data", "Content-Encoding") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyError(413, f"the decompressed body exceeds {limit} bytes", "body")
    if not inflater.eof:
        raise BodyError(400, "the gzip body is truncated", "Content-Encoding")
    return out


def _envelope(text: bytes) -> dict[str, msgspec.Raw] | dict[str, bytes] | None:
    """The members of a body that is one JSON object holding "events"; None for anything else (NDJSON,
    one event). An envelope whose decode fails because of one event inside it is split by framing, so
    that event is refused alone, as it would be in a bare array or NDJSON. (For NDJSON the framing scan
    stops at the end of the first line's object.)"""
    try:
        return msgspec.json.decode(text, type=dict[str, msgspec.Raw])
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        pass  # not one object (NDJSON), one too deep to decode (an event), or an envelope with a bad event
    try:
        members = split_object_members(text)
        keys = [msgspec.json.decode(key, type=str) for key, _ in members]
    except (BatchFormatError, msgspec.DecodeError, msgspec.ValidationError):
        return None
    if "events" not in keys:
        return None
    return dict(zip(keys, (value for _, value in members), strict=True))


def _items(body: bytes) -> tuple[list[bytes], str | None]:
    """Raw event items and the envelope's site_id (None when the body is not an envelope)."""
    stripped = body.strip()
    if stripped[:1] == b"{":
        obj = _envelope(stripped)
        if obj is not None and "events" in obj:
            unknown = sorted(set(obj) - ENVELOPE_FIELDS)
            if unknown:
                raise BodyError(400, f"unknown field {unknown[0]!r} in the batch envelope", unknown[0])
            events_text = bytes(obj["events"]).strip()
            if events_text[:1] != b"[":
                raise BodyError(400, "'events' must be a JSON array of event objects", "events")
            try:
                # Split as a bare array is, so an item the decoder refuses is refused alone.
                events = split_body(events_text)
            except BatchFormatError:
                raise BodyError(400, "'events' must be a JSON array of event objects", "events") from None
            site_id: str | None = None
            for name, limit in (("source", 64), ("site_id", 128)):
                if name in obj:
                    try:
                        value = msgspec.json.decode(obj[name], type=str | None)
                    except (msgspec.DecodeError, msgspec.ValidationError):
                        raise BodyError(400, f"'{name}' must be a string", name) from None
                    if value is not None and not 0 < len(value) <= limit:
                        raise BodyError(400, f"'{name}' must be 1..{limit} characters", name)
                    if name == "site_id":
                        site_id = value
            return events, site_id
    try:
        return split_body(stripped), None
    except BatchFormatError as exc:
        raise BodyError(400, str(exc), "body") from None


def parse_batch(
    body: bytes, content_encoding: str | None, settings: Settings, now: datetime
) -> tuple[list[Prepared], list[Problem]]:
    data = decompress(body, content_encoding, settings.max_decoded_bytes)
    if not data.strip():
        raise BodyError(400, "the body is empty; send {events: [...]}, a JSON array or NDJSON", "body")
    try:
        items, site_id = _items(data)
    except RecursionError:
        raise BodyError(400, "the body is nested too deeply", "body") from None
    if len(items) > settings.max_events_per_batch:
        raise BodyError(
            413, f"the batch holds {len(items)} events; the limit is {settings.max_events_per_batch}", "events"
        )
    good: list[Prepared] = []
    problems: list[Problem] = []
    for index, raw in enumerate(items):
        verdict = check_event(index, raw, now=now, max_future_skew_s=settings.max_future_skew_s)
        if isinstance(verdict, Problem):
            problems.append(verdict)
        elif site_id is not None and verdict.event.site_id != site_id:
            message = f"site_id {verdict.event.site_id!r} differs from the batch's site_id {site_id!r}"
            problems.append(Problem(index, "site_id", message))
        else:
            event = verdict.event
            good.append(Prepared(facts_from_event(event), raw, datetime.fromisoformat(event.at)))
    return good, problems
