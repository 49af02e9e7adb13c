"""Query parameters of the list and stream endpoints: strict parsing and opaque cursors.

Parsing is strict on purpose: an unknown or malformed parameter is a 400 that names it, never a
silently ignored filter (which would return the wrong rows) and never a 500.
Cursors are keyset positions (sort value + entity id), so a page boundary does not move when rows
are inserted; a cursor only fits the query it came from (same kind, sort and filters).
"""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.datastructures import QueryParams

from .liveness import ALL_STATUSES, iso
from .settings import Settings

SORTS = ("created_at", "updated_at")
KINDS = frozenset({"job", "subjob"})
# A substring search needs 3 characters: PostgreSQL's trigram index cannot narrow a shorter one.
CONTAINS_MIN = 3
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Param:
    """One query parameter: the endpoint's parser accepts it, the OpenAPI document describes it.

    kinds: the entity kinds it applies to; max_chars: the length bound of a free-text filter."""

    name: str
    description: str
    kinds: frozenset[str] = KINDS
    max_chars: int | None = None


# The filters of the list endpoints and the stream; parse_filters reads exactly these (text ones in
# this order, so the first bad one named stays the same).
FILTERS = (
    Param("site_id", "exact site id, e.g. fab1", max_chars=128),
    Param("app", "exact application name", max_chars=128),
    Param("status", f"{', '.join(ALL_STATUSES)}; repeat or comma-separate"),
    Param("business_key", "exact business key", max_chars=256),
    Param("sub_key", "exact sub key (e.g. wafer id)", frozenset({"subjob"}), max_chars=256),
    Param("host", "exact host name", max_chars=255),
    Param("business_key_contains", "business keys containing this text, any case (3..256 characters)", max_chars=256),
    Param("since", "RFC 3339; rows with an event at or after this time"),
    Param("until", "RFC 3339; rows created before this time"),
    Param("parent_id", "the parent job's id", frozenset({"subjob"})),
)
# Paging of the list endpoints (parse_list).
PAGING = (
    Param("sort", "created_at or updated_at, '-' prefix for descending (default -created_at)"),
    Param("limit", "page size, 1..max_limit (default 50, max 1000)"),
    Param("cursor", "next_cursor of the previous page"),
)
_TEXT_LIMITS = {p.name: p.max_chars for p in FILTERS if p.max_chars is not None}


def openapi_parameters(kinds: Collection[str], params: Iterable[Param]) -> list[dict[str, Any]]:
    """OpenAPI parameter objects (optional query strings) of an endpoint that serves `kinds`; a parameter
    that applies to only some of them says which."""
    out: list[dict[str, Any]] = []
    for p in params:
        if p.kinds.isdisjoint(kinds):
            continue
        note = "" if p.kinds.issuperset(kinds) else f" (kind={'/'.join(sorted(p.kinds))})"
        out.append({"name": p.name, "in": "query", "required": False, "description": p.description + note,
                    "schema": {"type": "string"}})  # fmt: skip
    return out


class QueryError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(slots=True)
class Filters:
    kind: str  # "job" or "subjob"
    site_id: str | None = None
    app: str | None = None
    statuses: tuple[str, ...] = ()
    business_key: str | None = None
    sub_key: str | None = None
    host: str | None = None
    parent_id: str | None = None
    business_key_contains: str | None = None  # case-insensitive substring; % and _ are literal
    since: str | None = None  # ISO; rows updated at or after
    until: str | None = None  # ISO; rows created before

    def fingerprint(self) -> str:
        data = orjson.dumps(
            [
                self.kind,
                self.site_id,
                self.app,
                self.statuses,
                self.business_key,
                self.sub_key,
                self.host,
                self.parent_id,
                self.since,
                self.until,
                self.business_key_contains,
            ]
        )
        return hashlib.sha256(data).hexdigest()[:16]


@dataclass(slots=True)
class ListQuery:
    filters: Filters
    sort: str = "created_at"
    descending: bool = True
    limit: int = 50
    after_value: str | None = None
    after_id: str | None = None


def _text(name: str, value: str) -> str:
    limit = _TEXT_LIMITS[name]
    if not value or len(value) > limit:
        raise QueryError(name, f"{name} must be 1..{limit} characters")
    if _CONTROL.search(value):
        raise QueryError(name, f"{name} must not contain control characters")
    return value


def _time(name: str, value: str) -> str:
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return iso(moment)
    except (ValueError, OverflowError):
        raise QueryError(name, f"{name} must be an RFC 3339 time such as 2026-01-31T12:00:00Z") from None


def _uuid(name: str, value: str) -> str:
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise QueryError(name, f"{name} must be a UUID") from None
    if len(value) != 36:
        raise QueryError(name, f"{name} must be a UUID in the 8-4-4-4-12 form")
    return str(parsed)


def _statuses(values: list[str]) -> tuple[str, ...]:
    out: list[str] = []
    for value in values:
        for part in value.split(","):
            if part not in ALL_STATUSES:
                raise QueryError("status", f"status {part[:64]!r} is not one of {', '.join(ALL_STATUSES)}")
            if part not in out:
                out.append(part)
    return tuple(out)


def _single(params: QueryParams, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise QueryError(name, f"{name} may be given only once")
    return values[0] if values else None


def parse_filters(params: QueryParams, kind: str, endpoint: Iterable[Param]) -> Filters:
    """The FILTERS of `kind`; `endpoint` are the other parameters the endpoint takes (parsed by it).

    Raises QueryError for a parameter that is unknown, repeated or malformed."""
    names = {p.name for p in FILTERS if kind in p.kinds}
    allowed = {p.name for p in endpoint}
    for name in params:
        if name not in names and name not in allowed:
            raise QueryError(
                name[:64], f"unknown query parameter {name[:64]!r}; allowed: {', '.join(sorted(names | allowed))}"
            )
    f = Filters(kind=kind)
    for name in _TEXT_LIMITS:
        value = _single(params, name) if name in names else None
        if value is not None:
            setattr(f, name, _text(name, value))
    if f.business_key_contains is not None and len(f.business_key_contains) < CONTAINS_MIN:
        raise QueryError("business_key_contains", f"business_key_contains must be at least {CONTAINS_MIN} characters")
    if params.getlist("status"):
        f.statuses = _statuses(params.getlist("status"))
    for name in ("since", "until"):
        value = _single(params, name)
        if value is not None:
            setattr(f, name, _time(name, value))
    if kind == "subjob" and (value := _single(params, "parent_id")) is not None:
        f.parent_id = _uuid("parent_id", value)
    return f


def _encode_cursor(payload: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def parse_list(params: QueryParams, kind: str, settings: Settings) -> ListQuery:
    """FILTERS and PAGING of a list endpoint. Raises QueryError naming the parameter at fault."""
    f = parse_filters(params, kind, PAGING)
    q = ListQuery(filters=f, limit=settings.default_limit)
    sort = _single(params, "sort")
    if sort is not None:
        q.descending = sort.startswith("-")
        q.sort = sort.lstrip("-")
        if q.sort not in SORTS or sort.count("-") > 1:
            raise QueryError("sort", f"sort must be one of {', '.join(SORTS)}, optionally prefixed by '-'")
    limit = _single(params, "limit")
    if limit is not None:
        if not re.fullmatch(r"[0-9]{1,9}", limit) or not 1 <= int(limit) <= settings.max_limit:
            raise QueryError("limit", f"limit must be an integer from 1 to {settings.max_limit}")
        q.limit = int(limit)
    cursor = _single(params, "cursor")
    if cursor is not None:
        q.after_value, q.after_id = decode_cursor(cursor, q)
    return q


def next_cursor(q: ListQuery, last_row: dict[str, Any]) -> str:
    return _encode_cursor(
        [1, q.filters.kind, q.sort, q.descending, q.filters.fingerprint(), last_row[q.sort], last_row["id"]]
    )


def decode_cursor(cursor: str, q: ListQuery) -> tuple[str, str]:
    try:
        if len(cursor) > 512:
            raise ValueError
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        version, kind, sort, desc, fingerprint, value, entity_id = orjson.loads(raw)
        if version != 1 or not isinstance(value, str) or not isinstance(entity_id, str):
            raise ValueError
        _time("cursor", value)
        _uuid("cursor", entity_id)
    except (ValueError, TypeError):
        raise QueryError("cursor", "cursor is not one this gateway issued") from None
    if (kind, sort, desc, fingerprint) != (q.filters.kind, q.sort, q.descending, q.filters.fingerprint()):
        raise QueryError("cursor", "cursor belongs to a different query; keep sort and filters when paging")
    return value, entity_id


def parse_after(value: str | None) -> int | None:
    """A stream resume point (Last-Event-ID or ?after=): a non-negative change id."""
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]{1,18}", value.strip()):
        raise QueryError("Last-Event-ID", "Last-Event-ID / after must be a non-negative integer event id")
    return int(value.strip())
