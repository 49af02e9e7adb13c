"""The native all-valid check (sidecar/native/eventcheck.cpp, built as wafermon_sidecar._eventcheck),
described from wafermon_schema's model.

Building a Python object per event is most of what validation costs in Python, even with msgspec.
The native module parses each NDJSON line with simdjson and walks it against a description of the
model that this module derives from `wafermon_schema.model.Event` at start-up: per field its type,
whether it is required or nullable, string lengths in code points, Literal values, number bounds,
fixed-width patterns as byte templates (compile_template), and `dict[str, Any]` as "any object".
The cross-field rules come as the mixed-radix codes of the combinations of facts that crossfield.py's
table accepts.

The rules beyond the schema (wafermon_schema/rules.py) come as the fields they read and their
bounds: a real `at` from MIN_YEAR and not after the latest `at` accepted now (passed per call), no
\u0000, a bounded heartbeat in metadata; numbers that may need too many fraction digits are "not sure".

It can only say "every event of this body is valid", and answers "not sure" (-1) for whatever it
does not cover exactly; the authority then judges the body. When the model holds something this
description cannot express, nothing is built and the authority judges every body.
"""

from __future__ import annotations

import logging
import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec

from wafermon_schema import MAX_EVENT_BYTES, MAX_HEARTBEAT_S
from wafermon_schema.model import Event
from wafermon_schema.rules import HEARTBEAT_KEY, MIN_YEAR

from .crossfield import INT_FIELDS, CrossFieldTable

log = logging.getLogger(__name__)

_INT64 = (-(2**63), 2**63 - 1)
# msgspec.Meta's constraints; any other than these per type makes the model unsupported.
_CONSTRAINTS = ("gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "tz", "pattern")
_BOUNDS = {"gt", "ge", "lt", "le"}
_ALLOWED = {str: {"min_length", "max_length", "pattern"}, int: _BOUNDS, float: _BOUNDS}


_CLASS_OR_CHAR = re.compile(r"\[([^\]\\]+)\]|\\([.\-:TZ+])|([A-Za-z0-9:_ -])")
_REPEAT = re.compile(r"\{(\d+)\}")


@dataclass(frozen=True, slots=True)
class Template:
    """A fixed-width pattern (e.g. a UUID) as a byte translation: each allowed byte becomes the symbol
    of its character class, anything else 0, and a batch of values (newline-joined) is valid exactly
    when its translation equals `unit * n` (`matches`). The native check translates each value alone
    and compares it with `unit` less its final newline symbol."""

    table: bytes
    unit: bytes

    def matches(self, joined: str, count: int) -> bool:
        if not joined.isascii():
            return False
        return joined.encode().translate(self.table) == self.unit * count


def compile_template(core: str) -> Template | None:
    """A Template for a pattern of character classes, escaped or plain literals and {n} repeats only
    (like the UUID and timestamp patterns), whose classes do not overlap; otherwise None."""
    positions: list[frozenset[int]] = []
    i = 0
    while i < len(core):
        m = _CLASS_OR_CHAR.match(core, i)
        if m is None:
            return None
        if m.group(1) is not None:
            body = m.group(1)
            if body.startswith("^"):
                return None
            allowed: set[int] = set()
            for lo, hi in re.findall(r"(.)(?:-(.))?", body):
                allowed.update(range(ord(lo), ord(hi or lo) + 1))
            charset = frozenset(allowed)
        else:
            charset = frozenset({ord(m.group(2) or m.group(3))})
        i = m.end()
        repeat = _REPEAT.match(core, i)
        times = 1
        if repeat is not None:
            times = int(repeat.group(1))
            i = repeat.end()
        positions.extend([charset] * times)
    classes = list(dict.fromkeys(positions))
    if len(classes) > 250 or any(a & b for n, a in enumerate(classes) for b in classes[n + 1 :]):
        return None
    if any(10 in c or max(c) > 127 for c in classes):
        return None
    table = bytearray(256)
    for symbol, charset in enumerate(classes, start=1):
        for byte in charset:
            table[byte] = symbol
    table[10] = 255
    return Template(bytes(table), bytes(classes.index(p) + 1 for p in positions) + b"\xff")


class Unsupported(Exception):
    """The model holds something the native description cannot express exactly."""


def _members(kind: Any) -> list[Any]:
    if get_origin(kind) in (Union, types.UnionType):
        return [m for arg in get_args(kind) for m in _members(arg)]
    return [kind]


def _strip(kind: Any) -> tuple[Any, dict[str, Any]]:
    """A type without Annotated, and the constraints its msgspec.Meta carry."""
    constraints: dict[str, Any] = {}
    while get_origin(kind) is Annotated:
        kind, *metas = get_args(kind)
        for meta in metas:
            if isinstance(meta, msgspec.Meta):
                constraints.update({k: getattr(meta, k) for k in _CONSTRAINTS if getattr(meta, k) is not None})
    return kind, constraints


def _base(kind: Any) -> Any:
    return _strip(kind)[0]


def _int_node(c: dict[str, Any], path: str) -> tuple[Any, ...]:
    lo = max(c.get("ge", _INT64[0]), c["gt"] + 1 if "gt" in c else _INT64[0])
    hi = min(c.get("le", _INT64[1]), c["lt"] - 1 if "lt" in c else _INT64[1])
    if not all(isinstance(b, int) for b in (lo, hi)) or lo < _INT64[0] or hi > _INT64[1]:
        raise Unsupported(f"integer bounds at {path} beyond 64 bits")
    return ("int", lo, hi)


def _float_node(c: dict[str, Any]) -> tuple[Any, ...]:
    lo, lo_inclusive = (float(c["ge"]), True) if "ge" in c else (float(c.get("gt", -math.inf)), False)
    hi, hi_inclusive = (float(c["le"]), True) if "le" in c else (float(c.get("lt", math.inf)), False)
    return ("float", lo, lo_inclusive, hi, hi_inclusive)


def _str_node(c: dict[str, Any], path: str) -> tuple[Any, ...]:
    table = unit = None
    pattern = c.get("pattern")
    if pattern is not None:
        template = None
        if pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$"):
            template = compile_template(pattern[1:-1])
        if template is None:
            raise Unsupported(f"pattern {pattern!r} at {path} is not a fixed-width template")
        table, unit = template.table, template.unit[:-1]  # the unit ends with the newline's symbol
    return ("str", c.get("min_length", -1), c.get("max_length", -1), table, unit)


def _node(kind: Any, path: str) -> tuple[Any, ...]:
    base, c = _strip(kind)
    if get_origin(base) is Literal:
        values = get_args(base)
        if c or not all(type(v) is str for v in values):
            raise Unsupported(f"Literal at {path} holds something other than strings")
        return ("enum", values)
    allowed = _ALLOWED.get(base, set())
    if set(c) - allowed:
        raise Unsupported(f"constraints {sorted(set(c) - allowed)} at {path}")
    if base is str:
        return _str_node(c, path)
    if base is int:
        return _int_node(c, path)
    if base is float:
        return _float_node(c)
    if base == dict[str, Any]:
        return ("object",)
    if isinstance(base, type) and issubclass(base, msgspec.Struct):
        return _struct_node(base, path)
    raise Unsupported(f"type {base!r} at {path}")


def _field(name: str, kind: Any, required: bool, path: str) -> tuple[str, tuple[Any, ...], bool, bool]:
    base, constraints = _strip(kind)
    if get_origin(base) in (Union, types.UnionType) and constraints:
        raise Unsupported(f"constraints on a whole union at {path}")
    members = _members(base) if get_origin(base) in (Union, types.UnionType) else [kind]
    nullable = type(None) in members
    rest = [m for m in members if m is not type(None) and m is not msgspec.UnsetType]
    if len(rest) == 2 and {_base(m) for m in rest} == {int, float}:
        # JSON Schema's integer (seq, pid): the native check takes integers only, never 3.0
        rest = [m for m in rest if _base(m) is int]
    if len(rest) != 1:
        raise Unsupported(f"union {kind!r} at {path}")
    return (name, _node(rest[0], path), required, nullable)


def _struct_node(cls: type[msgspec.Struct], path: str = "") -> tuple[Any, ...]:
    config = cls.__struct_config__
    renamed = cls.__struct_encode_fields__ != cls.__struct_fields__
    if renamed or config.tag is not None or config.array_like:
        raise Unsupported(f"struct {cls.__name__} is renamed, tagged or array-like")
    hints = typing.get_type_hints(cls, include_extras=True)
    names = cls.__struct_fields__
    first_default = len(names) - len(cls.__struct_defaults__)
    fields = [_field(n, hints[n], i < first_default, f"{path}.{n}" if path else n) for i, n in enumerate(names)]
    return ("struct", tuple(fields))


def describe_facts(table: CrossFieldTable) -> tuple[tuple[Any, ...], list[int]]:
    """The facts in the order of the table's keys, and the code of each key the table allows."""
    facts: list[tuple[Any, ...]] = []
    radices: list[int] = []
    for name, domain in table.enum_domains:
        described: list[tuple[str, ...]] = []
        for value in domain:
            if value is None:
                described.append(("null",))
            elif value is msgspec.UNSET:
                described.append(("absent",))
            elif type(value) is str:
                described.append(("value", value))
            else:
                raise Unsupported(f"enum fact {name} has the value {value!r}")
        facts.append(("enum", name, tuple(described)))
        radices.append(len(domain))
    for name, can_be_unset, can_be_none in table.presence:
        if can_be_unset:
            facts.append(("absent", name))
            radices.append(2)
        if can_be_none:
            facts.append(("null", name))
            radices.append(2)
    codes = []
    for key in table.allowed:
        parts, int_flags = key[: len(radices)], key[len(radices) :]
        if len(int_flags) != len(INT_FIELDS) or not all(f is True for f in int_flags):
            continue  # the native check only ever sees integer seq and pid
        code = 0
        for n, (part, radix) in enumerate(zip(parts, radices, strict=True)):
            if n < len(table.enum_domains):
                index = next(i for i, v in enumerate(table.enum_domains[n][1]) if v is part or v == part)
            else:
                index = int(part is True)
            code = code * radix + index
        codes.append(code)
    return tuple(facts), codes


@dataclass(frozen=True, slots=True)
class NativeCheck:
    handle: object
    module: Any  # _eventcheck

    def count_valid(self, ndjson: bytes, latest_at: str | None = None) -> int:
        """The number of events when every line is one event the authority accepts; -1 when not sure.

        latest_at: the latest `at` accepted now (wafermon_schema.rules.latest_at); None: no clock rule."""
        result: int = self.module.count_valid(self.handle, ndjson, latest_at)
        return result

    def count_valid_array(self, array: bytes, latest_at: str | None = None) -> tuple[int, bytes | None]:
        """(count, the events' own texts as NDJSON) when every item of a JSON array is one event the
        authority accepts; (-1, None) when not sure."""
        result: tuple[int, bytes | None] = self.module.count_valid_array(self.handle, array, latest_at)
        return result


def compile_args(table: CrossFieldTable) -> tuple[Any, ...]:
    """The arguments of _eventcheck.compile for wafermon_schema's Event: (spec, facts, allowed codes,
    max event bytes, rules). The sidecar and the libFuzzer target (native/fuzz) build the same check.

    Raises Unsupported, ValueError or StopIteration when the model cannot be described exactly."""
    facts, codes = describe_facts(table)
    rules = ("at", MIN_YEAR, "metadata", HEARTBEAT_KEY, "wafermon", "heartbeat_s", float(MAX_HEARTBEAT_S))
    return (_struct_node(Event), facts, codes, MAX_EVENT_BYTES, rules)


def build(table: CrossFieldTable | None) -> NativeCheck | None:
    """The native check of wafermon_schema's Event, or None (logged) when it cannot be built exactly."""
    if table is None:
        return None
    try:
        from .. import _eventcheck  # type: ignore[attr-defined]
    except ImportError as exc:  # pragma: no cover - the package builds it; a source checkout may not
        log.warning("native event check unavailable (%s); the authority judges every body", exc)
        return None
    try:
        handle = _eventcheck.compile(*compile_args(table))
    except (Unsupported, ValueError, StopIteration) as exc:
        log.warning("native event check disabled (%s); the authority judges every body", exc)
        return None
    return NativeCheck(handle, _eventcheck)
