"""The schema's cross-field rules as a table, derived from wafermon_schema.cross_field_problem.

The native check (native.py) cannot call a Python function per event. cross_field_problem's verdict
depends only on a few facts of an event: the values of its enum fields (event_kind, status,
entity_type) and whether some other fields are absent, null or present. So it is asked once, at
start-up, for every combination of those facts; the combinations it accepts form the table, which the
native check receives as a set of codes.

The facts are not assumed blindly. While the table is built, cross_field_problem sees a stand-in
event that records which fields it reads, and stand-in values that raise on anything but an identity
test (`is None`, `is UNSET`). If it reads another field, or looks into a value (compares it, reads a
sub-field, tests its type), deriving fails and no native check is built: the authority judges every
body. The integer fields it normalises (seq, pid: an integral float becomes an int) are stand-ins
that allow nothing but an isinstance test; the table speaks only for events where they are ints.
"""

from __future__ import annotations

import itertools
import logging
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Literal, Union, get_args, get_origin

import msgspec

from wafermon_schema.model import Event, cross_field_problem

log = logging.getLogger(__name__)

# Fields whose Python type must be exactly int for the table to speak for them.
INT_FIELDS = ("seq", "pid")


class _Touched(Exception):
    """cross_field_problem did something with a value that the table cannot stand for."""


class _Uncovered(_Touched):
    """cross_field_problem read a field that is not among the facts yet (the facts grow)."""


class _Opaque:
    """A present value of a field: only identity tests work on it (`x is None`, `x is UNSET`)."""

    __slots__ = ()

    def __getattribute__(self, name: str) -> Any:
        raise _Touched(f"reads .{name} of a value")

    def __eq__(self, other: object) -> bool:
        raise _Touched("compares a value")

    def __ne__(self, other: object) -> bool:
        raise _Touched("compares a value")

    def __bool__(self) -> bool:
        raise _Touched("tests a value for truth")

    def __hash__(self) -> int:
        raise _Touched("hashes a value")


class _OpaqueInt(int):
    """An integer field: isinstance works, anything that looks at the number raises."""

    def __getattribute__(self, name: str) -> Any:
        if name == "__class__":
            return type(self)
        raise _Touched(f"reads .{name} of an integer field")

    def _touch(self, *_: object) -> Any:
        raise _Touched("uses the value of an integer field")

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = __bool__ = __index__ = __int__ = _touch
    __float__ = __add__ = __sub__ = __mul__ = __mod__ = __truediv__ = __floordiv__ = __format__ = _touch


class _Event:
    """The stand-in event: serves the facts of one combination and records every field read."""

    def __init__(self, values: dict[str, Any], reads: set[str]) -> None:
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_reads", reads)

    def __getattr__(self, name: str) -> Any:
        values: dict[str, Any] = object.__getattribute__(self, "_values")
        object.__getattribute__(self, "_reads").add(name)
        if name not in values:
            raise _Uncovered(name)
        return values[name]

    def __setattr__(self, name: str, value: Any) -> None:
        raise _Touched(f"sets field {name!r}")


def _members(kind: Any) -> list[Any]:
    """The members of a union (or [kind] itself), Annotated stripped."""
    if get_origin(kind) is typing.Annotated:
        return _members(get_args(kind)[0])
    if get_origin(kind) in (Union, types.UnionType):
        return [m for arg in get_args(kind) for m in _members(arg)]
    return [kind]


def _domain(kind: Any) -> list[Any] | None:
    """Every value a field can take as far as the rules can tell; None when it is not enumerable."""
    members = _members(kind)
    domain: list[Any] = []
    for member in members:
        if get_origin(member) is Literal:
            domain.extend(get_args(member))
        elif member is type(None):
            domain.append(None)
        elif member is msgspec.UnsetType:
            domain.append(msgspec.UNSET)
        elif isinstance(member, type) and (issubclass(member, msgspec.Struct) or member is str):
            if _Opaque not in [type(d) for d in domain]:
                domain.append(_Opaque())
        else:
            return None
    return domain


@dataclass(frozen=True, slots=True)
class CrossFieldTable:
    fields: tuple[str, ...]  # every field the rules read, as the key holds them
    allowed: frozenset[tuple[Any, ...]]  # the keys of the combinations cross_field_problem accepts
    # A key is: the value of each enum field (from its domain), then per presence field `is UNSET`
    # (when it can be absent) and `is None` (when it can be null), then `type is int` per INT_FIELDS.
    enum_domains: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    presence: tuple[tuple[str, bool, bool], ...] = ()  # (field, can_be_unset, can_be_none)

    def key(self, event: Any) -> tuple[Any, ...]:
        """The facts of one decoded event, in the order the table's keys hold them."""
        key: list[Any] = [getattr(event, name) for name, _ in self.enum_domains]
        for name, can_be_unset, can_be_none in self.presence:
            value = getattr(event, name)
            if can_be_unset:
                key.append(value is msgspec.UNSET)
            if can_be_none:
                key.append(value is None)
        key += [type(getattr(event, name)) is int for name in INT_FIELDS]
        return tuple(key)

    def ok(self, events: Sequence[Any]) -> bool:
        """True only when cross_field_problem accepts every event (the table's meaning, as the tests hold it)."""
        return all(self.key(event) in self.allowed for event in events)


def event_table() -> CrossFieldTable | None:
    """The table of wafermon_schema's cross-field rules over its Event model (None: see derive_table)."""
    return derive_table(Event, cross_field_problem)


def derive_table(event_type: type[msgspec.Struct], rule: Callable[[Any], object]) -> CrossFieldTable | None:
    """The table of `rule` over the fields of `event_type`, or None when it cannot be derived safely."""
    hints = typing.get_type_hints(event_type, include_extras=True)
    try:
        return _derive(hints, rule)
    except (_Touched, TypeError, ValueError) as exc:
        log.warning("cross-field rules cannot be tabulated (%s): no native check", exc)
        return None


def _derive(hints: dict[str, Any], rule: Callable[[Any], object]) -> CrossFieldTable:
    # Find the fields the rule reads, growing the set until a full enumeration reads nothing new.
    fields: list[str] = []
    while True:
        reads: set[str] = set()
        table: list[tuple[tuple[Any, ...], bool]] = []  # (values of `fields`, accepted); values may not hash
        try:
            for combo in itertools.product(*(_field_domain(hints, name) for name in fields)):
                values = dict(zip(fields, combo, strict=True))
                for name in INT_FIELDS:
                    values.setdefault(name, _OpaqueInt(0))
                table.append((combo, rule(_Event(values, reads)) is None))
        except _Uncovered:
            pass
        new = sorted(reads - set(fields) - set(INT_FIELDS))
        if not new:
            return _build(hints, fields, table)
        fields += new


def _field_domain(hints: dict[str, Any], name: str) -> list[Any]:
    if name not in hints:
        raise ValueError(f"the rules read {name!r}, which the model does not have")
    domain = _domain(hints[name])
    if domain is None:
        raise ValueError(f"field {name!r} has values the table cannot enumerate")
    return domain


def _build(hints: dict[str, Any], fields: list[str], table: list[tuple[tuple[Any, ...], bool]]) -> CrossFieldTable:
    enum_fields = [f for f in fields if not any(isinstance(v, _Opaque) for v in _field_domain(hints, f))]
    presence = [
        (
            f,
            any(v is msgspec.UNSET for v in _field_domain(hints, f)),
            any(v is None for v in _field_domain(hints, f)),
        )
        for f in fields
        if f not in enum_fields
    ]
    domains = tuple((f, tuple(_field_domain(hints, f))) for f in enum_fields)
    keys = CrossFieldTable(tuple(fields), frozenset(), domains, tuple(presence)).key
    ints = dict.fromkeys(INT_FIELDS, 0)  # a float seq or pid is never in the table: the authority judges it
    allowed = {keys(SimpleNamespace(**dict(zip(fields, combo, strict=True)), **ints)) for combo, ok in table if ok}
    return CrossFieldTable(tuple(fields), frozenset(allowed), domains, tuple(presence))
