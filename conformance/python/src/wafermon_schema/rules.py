"""The rules every receiver applies beyond the JSON Schema's shape, so an event the sidecar accepts is one
the gateway and its stores accept too (one authority for "is this event valid").

- `at` is a real UTC date and time: year 1970-9999, month 01-12, a day the month has, hour 00-23,
  minute and second 00-59 (no leap second; the schema's pattern fixes only the digits). Earlier years
  are no job's time, and the first instant of year 1 is PostgreSQL's -infinity to its driver.
- With a clock (`now`): `at` is at most `max_future_skew_s` ahead of it.
- No string, key or value, holds NUL (U+0000): PostgreSQL text and jsonb cannot store it.
- Every number is written with at most MAX_NUMBER_SCALE digits after the decimal point once its
  exponent is applied (1e-20000 decodes to 0.0, but PostgreSQL's jsonb cannot hold it).
- `wafermon.heartbeat_s` in metadata (flat key or nested `{"wafermon": {"heartbeat_s": x}}`), when present
  and not null, is a number with 0 < x <= MAX_HEARTBEAT_S: it sets the job's liveness deadline.

Each rule answers (field, message) in our own words, or None.
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_HEARTBEAT_S = 30 * 24 * 3600
"""The longest heartbeat a job may announce (30 days, in seconds); longer ones are refused."""
MIN_YEAR = 1970
"""The earliest year of an event's `at`."""
MAX_NUMBER_SCALE = 16383
"""Digits after the decimal point a number may need (PostgreSQL numeric, which jsonb uses, holds no more)."""
MAX_FUTURE_SKEW_S = 3600.0
"""How far ahead of the receiver's clock an event's `at` may be, by default (seconds)."""
HEARTBEAT_FIELD = "metadata.wafermon.heartbeat_s"
HEARTBEAT_KEY = "wafermon.heartbeat_s"  # the flat form; the nested one is metadata["wafermon"]["heartbeat_s"]
_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
# What may need more than MAX_NUMBER_SCALE fraction digits (number_suspect): a negative exponent of 4+
# digits ending where a JSON number can end (white space , ] }), so a UUID's groups ("...-800e-1234-" or
# "...-800e-123456789012\"") are no suspects; or 1000 digits after a point. Each pattern starts with a
# literal, which the regex engine finds at memory speed. Only suspects are scanned exactly.
_NUMBER_END = rb"(?=[ \t\r\n,\]}]|\Z)"
_SUSPECTS = (
    re.compile(rb"e-[0-9]{4,}" + _NUMBER_END),
    re.compile(rb"E-[0-9]{4,}" + _NUMBER_END),
    re.compile(rb"\.[0-9]{1000}"),
)
_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|-?[0-9]+(?:\.([0-9]+))?(?:[eE]([-+]?[0-9]+))?')


def at_problem(at: str) -> str | None:
    """Why a pattern-matching `at` (YYYY-MM-DDTHH:MM:SS.ffffffZ) is not a real time, or None."""
    year, month, day = int(at[0:4]), int(at[5:7]), int(at[8:10])
    hour, minute, second = int(at[11:13]), int(at[14:16]), int(at[17:19])
    if year < MIN_YEAR or not 1 <= month <= 12:
        return f"at {at!r} is not a real date: the year must be {MIN_YEAR}-9999 and the month 01-12"
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        return f"at {at!r} is not a real date: {year:04d}-{month:02d} has no day {day:02d}"
    if hour > 23 or minute > 59 or second > 59:
        return f"at {at!r} is not a real time of day: hour 00-23, minute and second 00-59"
    return None


def latest_at(now: datetime, max_future_skew_s: float) -> str:
    """The latest `at` accepted at `now`, in the event's own fixed-width form (which sorts as time)."""
    try:
        limit = now.astimezone(UTC) + timedelta(seconds=max_future_skew_s)
    except OverflowError:
        return "9999-12-31T23:59:59.999999Z"
    return (
        f"{limit.year:04d}-{limit.month:02d}-{limit.day:02d}T{limit.hour:02d}:{limit.minute:02d}:"
        f"{limit.second:02d}.{limit.microsecond:06d}Z"
    )


def future_problem(at: str, latest: str, max_future_skew_s: float) -> str | None:
    if at > latest:
        return f"at {at} is more than {max_future_skew_s:g} s ahead of the receiver's clock (latest allowed {latest})"
    return None


def number_suspect(raw: bytes) -> bool:
    """Whether the text may hold a number needing more than MAX_NUMBER_SCALE fraction digits (a negative
    exponent of 4+ digits, or 1000 digits after a point). Never False for such a number; fast, since the
    sidecar's fast path asks it of every body."""
    return any(suspect.search(raw) is not None for suspect in _SUSPECTS)


def number_problem(raw: bytes) -> str | None:
    """Why a number in the encoded value cannot be stored, or None. Cheap unless number_suspect says so."""
    if not number_suspect(raw):
        return None
    for token in _TOKEN.finditer(raw):
        if token.group(0)[:1] == b'"':
            continue  # a string: numbers inside it are text
        fraction, exponent = token.group(1) or b"", int(token.group(2) or b"0")
        scale = len(fraction) - exponent
        if scale > MAX_NUMBER_SCALE:
            return (
                f"a number needs {scale} digits after the decimal point; the limit is {MAX_NUMBER_SCALE} "
                "(write it rounded, or as a string)"
            )
    return None


def has_nul(raw: bytes) -> bool:
    """Whether the encoded event holds a \\u0000 escape (a raw NUL byte is not valid JSON text)."""
    return b"\\u0000" in raw and _NUL.search(raw) is not None


def nul_path(value: Any, path: str) -> str | None:
    """The dotted path of the first key or string holding NUL inside a decoded value, or None.

    Iterative, so metadata nested as deep as the decoder allows costs no recursion."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return where
            continue
        children: list[tuple[Any, str]] = []
        if isinstance(item, dict):
            for key, child in item.items():
                inner = f"{where}.{key.replace(chr(0), '?')}" if where else key.replace(chr(0), "?")
                if "\x00" in key:
                    return inner
                children.append((child, inner))
        elif isinstance(item, list):
            children = [(child, f"{where}.{n}") for n, child in enumerate(item)]
        stack.extend(reversed(children))
    return None


def heartbeat_problem(metadata: dict[str, Any]) -> str | None:
    """Why the metadata's heartbeat setting is refused, or None (absent or null counts as not set)."""
    nested = metadata.get("wafermon")
    for label, value in (
        (f'metadata["{HEARTBEAT_KEY}"]', metadata.get(HEARTBEAT_KEY)),
        ('metadata["wafermon"]["heartbeat_s"]', nested.get("heartbeat_s") if isinstance(nested, dict) else None),
    ):
        if value is None:
            continue
        number = not isinstance(value, bool) and isinstance(value, int | float)
        if not number or not 0 < value <= MAX_HEARTBEAT_S:
            return f"{label} must be a number of seconds above 0 and at most {MAX_HEARTBEAT_S}, not {value!r:.40}"
    return None
