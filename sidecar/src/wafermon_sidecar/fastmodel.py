"""A pattern-free twin of wafermon_schema's Event model, derived from it at import time.

msgspec checks a `pattern` constraint by calling Python's `re` once per string, which is more than
half the cost of decoding an event. The twin keeps every other constraint (types, enums, lengths,
ranges, unknown fields) and the patterns are checked afterwards once per batch: all values of a field
joined by newlines and matched by one compiled regex. The twin is only ever used to say "every event
of this batch is valid"; anything else falls back to wafermon_schema.check_batch, the authority.
It is derived (not copied) so it follows the schema package; `self_check` compares it on the vectors.
"""

from __future__ import annotations

import logging
import re
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Union, get_args, get_origin

import msgspec

from wafermon_schema.model import Event, cross_field_problem

from .crossfield import CrossFieldTable, compile_function, derive_table

log = logging.getLogger(__name__)

# msgspec.Meta's constraints other than `pattern` (nativecheck.py adds it back).
_META_KEYS = ("gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "tz")
# Regex syntax that could match a newline; such patterns are checked value by value instead.
_NEWLINE_CAPABLE = re.compile(r"\.|\\s|\\S|\\W|\\D|\[\^|\\n")


_CLASS_OR_CHAR = re.compile(r"\[([^\]\\]+)\]|\\([.\-:TZ+])|([A-Za-z0-9:_ -])")
_REPEAT = re.compile(r"\{(\d+)\}")


@dataclass(frozen=True, slots=True)
class Template:
    """A fixed-width pattern (e.g. a UUID) as a byte translation: each allowed byte becomes the symbol
    of its character class, anything else 0, and a batch of values (newline-joined) is valid exactly
    when its translation equals `unit * n`. bytes.translate and == run at memory speed."""

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


class UnsupportedModel(Exception):
    """A pattern sits where the batch check cannot reach it (inside a list or dict)."""


def _collector_source(paths: Sequence[tuple[str, ...]], leaf: str) -> str:
    """A function gathering the values of some fields of a batch of events, as list comprehensions: in a
    comprehension an attribute load is specialised and several times cheaper than attrgetter or getattr
    on a msgspec struct. Absent (UNSET) or null parents drop out; so do leaves not of type `leaf`."""
    comprehensions = []
    for path in paths:
        conditions = []
        current = "e"
        for depth, name in enumerate(path[:-1]):
            conditions.append(f"(p{depth} := {current}.{name}) is not None and p{depth} is not UNSET")
            current = f"p{depth}"
        conditions.append(f"type(v := {current}.{path[-1]}) is {leaf}")
        comprehensions.append(f"[v for e in events if {' and '.join(conditions)}]")
    return f"def collect(events):\n    return {' + '.join(comprehensions)}\n"


def collector(paths: Sequence[tuple[str, ...]], leaf: str) -> Callable[[Sequence[Any]], list[Any]]:
    return compile_function("collect", _collector_source(paths, leaf), [name for path in paths for name in path])


@dataclass(frozen=True, slots=True)
class PatternCheck:
    """All fields (paths) sharing one pattern, checked together over a whole batch."""

    paths: tuple[tuple[str, ...], ...]
    bulk: re.Pattern[str] | None  # (?:X\n)* for one fullmatch over all values
    single: re.Pattern[str]  # the schema's own pattern, re.search as msgspec does
    template: Template | None = None  # the fastest way, for fixed-width patterns
    values: Callable[[Sequence[Any]], list[str]] = field(default=lambda _: [])  # its string values in a batch

    def ok(self, events: Sequence[Any]) -> bool:
        values = self.values(events)
        if not values:
            return True
        if self.template is not None:
            return self.template.matches("\n".join(values) + "\n", len(values))
        if self.bulk is not None:
            joined = "\n".join(values) + "\n"
            # No value may carry its own newline, or the joined lines would not be the values.
            return joined.count("\n") == len(values) and self.bulk.fullmatch(joined) is not None
        return all("\n" not in v and self.single.search(v) is not None for v in values)


# A JSON number msgspec may refuse when it decodes it (out of the float range, or too many digits for an
# int) has an exponent or a long run of digits; text that merely looks like one only costs a full decode.
_DIGITS_AND_E = bytes.maketrans(b"123456789E", b"000000000e")
_LONG_DIGITS = b"0" * 100
_ESCAPE = re.compile(rb"\\u[0-9a-fA-F]{4}")
# Nesting the skipping scanner accepts but a decode at another stack depth might not (RecursionError).
_CHEAP_DEPTH = 200
_objects_decoder = msgspec.json.Decoder(list[dict[str, Any]])


def _valid_utf8(data: bytes) -> bool:
    if data.isascii():
        return True
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def _numbers_in_range(data: bytes) -> bool:
    """True when data (valid JSON text) has no number with an exponent and no run of 100 digits: then
    every number in it decodes. \\u escapes go first (the 5e of \\u65e5 is no exponent); they lie
    inside strings, so removing them cannot join or hide the characters of a number."""
    if b"\\u" in data:
        data = _ESCAPE.sub(b"", data)
    classes = data.translate(_DIGITS_AND_E)
    return b"0e" not in classes and _LONG_DIGITS not in classes


@dataclass(frozen=True, slots=True)
class ObjectCheck:
    """Fields typed dict[str, Any] (metadata) are left as msgspec.Raw by the twin: its scanner checks the
    JSON syntax (escapes, surrogates, control characters) without building the dicts, which costs as much
    as the rest of an event. What decoding would add is checked here, over the whole batch: each value is
    an object, its strings are valid UTF-8 and its numbers in range. Whatever this cannot vouch for cheaply
    is decoded exactly as the schema's model decodes it."""

    paths: tuple[tuple[str, ...], ...]
    values: Callable[[Sequence[Any]], list[msgspec.Raw]]

    def ok(self, events: Sequence[Any]) -> bool:
        raws = self.values(events)
        n = len(raws)
        if n == 0:
            return True
        joined = b"\n".join(raws)
        if (
            joined.count(b"\n") == n - 1  # no newline inside a value, so the next count is exact:
            and joined.count(b"\n{") == n - 1
            and joined[:1] == b"{"  # every value is an object
            and _valid_utf8(joined)  # (escapes were checked by the scanner)
            and _numbers_in_range(joined)
            and joined.count(b"{") + joined.count(b"[") - (n - 1) <= _CHEAP_DEPTH  # no value nested deeper
        ):
            return True
        try:
            _objects_decoder.decode(b"[" + b",".join(raws) + b"]")
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError, ValueError):
            return False
        return True


class _Deriver:
    def __init__(self) -> None:
        self.patterns: dict[str, list[tuple[str, ...]]] = {}
        self.objects: list[tuple[str, ...]] = []
        self._structs: dict[tuple[type, tuple[str, ...]], Any] = {}

    def struct(self, cls: type[msgspec.Struct], path: tuple[str, ...]) -> Any:
        key = (cls, path)
        if key in self._structs:
            return self._structs[key]
        hints = typing.get_type_hints(cls, include_extras=True)
        names = cls.__struct_fields__
        defaults = cls.__struct_defaults__
        first_default = len(names) - len(defaults)
        fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        for i, name in enumerate(names):
            kind = self.rewrite(hints[name], (*path, name), field_level=True)
            fields.append((name, kind, defaults[i - first_default]) if i >= first_default else (name, kind))
        config = cls.__struct_config__
        twin = msgspec.defstruct(
            f"Fast{cls.__name__}",
            fields,
            forbid_unknown_fields=config.forbid_unknown_fields,
            rename=None,
            gc=False,  # short-lived, never in cycles: skip GC tracking (cheaper to build)
        )
        self._structs[key] = twin
        return twin

    def rewrite(self, kind: Any, path: tuple[str, ...], field_level: bool = False) -> Any:
        if field_level and kind == dict[str, Any]:
            self.objects.append(path)  # checked by ObjectCheck
            return msgspec.Raw
        origin = get_origin(kind)
        if origin is Annotated:
            base, *metas = get_args(kind)
            kept: list[Any] = []
            for meta in metas:
                if isinstance(meta, msgspec.Meta) and meta.pattern is not None:
                    self._add_check(path, meta.pattern)
                    meta = msgspec.Meta(**{k: getattr(meta, k) for k in _META_KEYS if getattr(meta, k) is not None})
                kept.append(meta)
            return Annotated[(self.rewrite(base, path), *kept)]
        if origin in (Union, types.UnionType):
            return Union[tuple(self.rewrite(arg, path) for arg in get_args(kind))]  # noqa: UP007
        if isinstance(kind, type) and issubclass(kind, msgspec.Struct):
            return self.struct(kind, path)
        if "pattern=" in repr(kind):
            raise UnsupportedModel(f"pattern inside {kind!r} at {'.'.join(path)}")
        return kind

    def _add_check(self, path: tuple[str, ...], pattern: str) -> None:
        self.patterns.setdefault(pattern, []).append(path)

    def checks(self) -> list[PatternCheck]:
        result = []
        for pattern, paths in self.patterns.items():
            bulk = template = None
            if pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$"):
                core = pattern[1:-1]
                if not _NEWLINE_CAPABLE.search(core.replace("\\.", "")):
                    bulk = re.compile(f"(?:(?:{core})\\n)*")
                template = compile_template(core)
            result.append(PatternCheck(tuple(paths), bulk, re.compile(pattern), template, collector(paths, "str")))
        return result

    def object_check(self) -> ObjectCheck | None:
        if not self.objects:
            return None
        return ObjectCheck(tuple(self.objects), collector(self.objects, "Raw"))


@dataclass(frozen=True, slots=True)
class Derived:
    twin: Any  # the Event twin: no patterns, dict[str, Any] fields as msgspec.Raw
    checks: list[PatternCheck]
    objects: ObjectCheck | None
    cross_field: CrossFieldTable | None  # None: call cross_field_problem per event


def derive() -> Derived | None:
    """The twin and its batch checks, or None when the model cannot be twinned safely."""
    deriver = _Deriver()
    try:
        twin = deriver.struct(Event, ())
        checks = deriver.checks()
        objects = deriver.object_check()
    except (UnsupportedModel, TypeError, ValueError) as exc:  # pragma: no cover - depends on the schema package
        log.warning("validation fast path disabled: %s", exc)
        return None
    return Derived(twin, checks, objects, derive_table(twin, cross_field_problem))
