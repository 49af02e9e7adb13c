"""A backend's `filter`: which events it receives, as a small declarative grammar compiled once.

A filter is a mapping; every key in it must hold (keys side by side are AND):

    event_kind | entity_type | status | site_id | app: VALUE or [VALUE, ...]
        the event's field (for `app`: app.name) equals the value, or one of the list
    metadata: {KEY: VALUE or [VALUE, ...], ...}
        metadata[KEY] is present and equals the value (one of the list); KEY is a top-level metadata
        key taken as written (a dot in it is part of the key, as in `wafermon.heartbeat_s`)
    metadata_has: [KEY, ...]
        every KEY is present in metadata (whatever its value, null included)
    not: FILTER        the filter does not hold
    any: [FILTER, ...] at least one holds (an empty list: none does)
    all: [FILTER, ...] every one holds

An empty filter `{}` matches every event. Values are JSON scalars and compare strictly by JSON type:
1 and 1.0 are the same number, but 1, true and "1" are three different values; a metadata value that
is an object or array never equals a scalar. event_kind, entity_type and status values must be ones
the v1 schema allows, so a typo is a start-up error rather than a filter that never matches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any, get_args

import msgspec

from wafermon_schema.model import EntityType, EventKind, Status
from wafermon_schema.settings_loader import SettingsError as ConfigError


class EventView(msgspec.Struct):
    """The fields a filter reads; decoding only these skips the rest of the event (about half the cost
    of a whole decode). metadata is decoded only for filters that read it (EventViewWithMetadata)."""

    event_kind: Any = None
    entity_type: Any = None
    status: Any = None
    site_id: Any = None
    app: Any = None


class EventViewWithMetadata(EventView):
    metadata: Any = None


Event = EventView
Predicate = Callable[[Event], bool]

#: filter key → the schema's allowed values (None: any string)
FIELD_KEYS: dict[str, tuple[str, ...] | None] = {
    "event_kind": get_args(EventKind),
    "entity_type": get_args(EntityType),
    "status": get_args(Status),
    "site_id": None,
    "app": None,
}
COMBINATORS = ("not", "any", "all")
METADATA_KEYS = ("metadata", "metadata_has")
KNOWN_KEYS = (*FIELD_KEYS, *METADATA_KEYS, *COMBINATORS)
#: how deep `not` / `any` / `all` may nest (a bound on the work one event costs)
MAX_DEPTH = 16

_SCALARS = (str, int, float, bool, type(None))


def _kind(value: Any) -> str:
    """The JSON type of a scalar, numbers as one kind ("1" == 1.0 is false, 1 == 1.0 is true)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "null" if value is None else "other"


def json_equal(a: Any, b: Any) -> bool:
    """Equality of two JSON values by JSON type: True != 1, 1 == 1.0, objects/arrays never equal a scalar."""
    kind = _kind(a)
    return kind != "other" and kind == _kind(b) and a == b


class EventFilter:
    """A compiled filter (see the module docstring)."""

    def __init__(self, spec: Any, where: str) -> None:
        """`where` names the filter in errors, e.g. "backends[es].filter". Raises ConfigError naming the
        key (e.g. "backends[es].filter.any[1].status")."""
        self.uses_metadata = False
        self.predicate = self._compile(spec, where, 0)
        self.view: type[EventView] = EventViewWithMetadata if self.uses_metadata else EventView
        self._decode = msgspec.json.Decoder(self.view).decode

    def matches_raw(self, raw: bytes) -> bool:
        """Whether the event given as its JSON bytes passes. Raises msgspec.DecodeError (a subclass of
        ValueError) when they are not a JSON object."""
        return self.predicate(self._decode(raw))

    def matches(self, event: Mapping[str, Any]) -> bool:
        """Whether the event given as a mapping passes."""
        return self.predicate(msgspec.convert(event, self.view))

    def _compile(self, spec: Any, where: str, depth: int) -> Predicate:
        if depth > MAX_DEPTH:
            raise ConfigError(f"{where}: filters nest at most {MAX_DEPTH} deep (not / any / all)", where)
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{where} must be a mapping of filter keys, not {_json_type(spec)}", where)
        parts: list[Predicate] = []
        for key, value in spec.items():
            path = f"{where}.{key}"
            if key in FIELD_KEYS:
                parts.append(_field(key, _values(value, path, FIELD_KEYS[key], True)))
            elif key in METADATA_KEYS:
                self.uses_metadata = True
                parts.append(_metadata(value, path) if key == "metadata" else _metadata_has(value, path))
            elif key == "not":
                parts.append(_negation(self._compile(value, path, depth + 1)))
            elif key in ("any", "all"):
                if not isinstance(value, list):
                    raise ConfigError(f"{path} must be a list of filters, not {_json_type(value)}", path)
                inners = [self._compile(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)]
                parts.append(_either(inners) if key == "any" else _every(inners))
            else:
                raise ConfigError(f"{path}: unknown filter key; the known keys are: {', '.join(KNOWN_KEYS)}", path)
        return parts[0] if len(parts) == 1 else _every(parts)


def compile_filter(spec: Any, where: str) -> EventFilter:
    """The filter `spec` compiled (EventFilter). Raises ConfigError naming the key."""
    return EventFilter(spec, where)


def _negation(inner: Predicate) -> Predicate:
    return lambda event: not inner(event)


def _either(inners: list[Predicate]) -> Predicate:
    def either(event: Event) -> bool:
        for p in inners:  # noqa: SIM110 - a plain loop: cheaper than any() over a generator, per event
            if p(event):
                return True
        return False

    return either


def _every(inners: list[Predicate]) -> Predicate:
    def every(event: Event) -> bool:
        for p in inners:  # noqa: SIM110
            if not p(event):
                return False
        return True

    return every


def _json_type(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{_kind(value)} {value!r}"


def _values(value: Any, path: str, allowed: tuple[str, ...] | None, strings: bool) -> list[Any]:
    """A value or a non-empty list of values: strings (of `allowed`, when given) for the event's own
    fields, JSON scalars for metadata values."""
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ConfigError(f"{path} is an empty list: it would match no event; give at least one value", path)
    for item in values:
        if strings:
            if not isinstance(item, str):
                raise ConfigError(f"{path}: {_json_type(item)} is not a string", path)
            if allowed is not None and item not in allowed:
                raise ConfigError(f"{path}: {item!r} is not one of {', '.join(allowed)}", path)
        elif not isinstance(item, _SCALARS):
            raise ConfigError(f"{path}: {_json_type(item)} is not a JSON scalar (string, number, true/false, null)",
                              path)  # fmt: skip
    return values


def _field(key: str, values: list[Any]) -> Predicate:
    wanted = frozenset(values)
    if key == "app":

        def app_name(event: Event) -> bool:
            app = event.app
            name = app.get("name") if isinstance(app, dict) else None
            return isinstance(name, str) and name in wanted

        return app_name

    get = attrgetter(key)

    def field(event: Event) -> bool:
        value = get(event)
        return isinstance(value, str) and value in wanted

    return field


def _metadata(value: Any, path: str) -> Predicate:
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(f"{path} must be a non-empty mapping of metadata key to value(s)", path)
    checks = [(str(key), _values(wanted, f"{path}.{key}", None, False)) for key, wanted in value.items()]

    def metadata(event: Event) -> bool:
        meta = getattr(event, "metadata", None)
        if not isinstance(meta, dict):
            return False
        for key, wanted in checks:
            if key not in meta:
                return False
            actual = meta[key]
            if not any(json_equal(actual, w) for w in wanted):
                return False
        return True

    return metadata


def _metadata_has(value: Any, path: str) -> Predicate:
    keys = value if isinstance(value, list) else [value]
    if not keys or not all(isinstance(k, str) for k in keys):
        raise ConfigError(f"{path} must be a metadata key or a non-empty list of them (strings)", path)

    def metadata_has(event: Event) -> bool:
        meta = getattr(event, "metadata", None)
        return isinstance(meta, dict) and all(k in meta for k in keys)

    return metadata_has
