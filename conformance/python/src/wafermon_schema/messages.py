"""Our own words for an event the decoder refused, whatever the decoder's own message says.

The decoder (msgspec) is asked only *where* the problem is: the field path and the byte offset it
reports, which are data. *What* is wrong is said here, from the model's own annotations, so a new
version of the library changes no message a user or a test sees. When the decoder's report cannot
be read, the field is `event` and the message still ours.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec

from .model import AT_PATTERN, UUID_PATTERN, Event

_AT_PATH = re.compile(r" - at `\$\.?([^`]*)`$")
_NAMED_FIELD = re.compile(r"(?:unknown|required) field `([^`]+)`")
_BYTE = re.compile(r"\(byte (\d+)\)")
_SUBSCRIPT = re.compile(r"\[(\d+|\.\.\.)\]")
_PATTERN_WORDS = {
    UUID_PATTERN: "a lower-case UUID such as 01936f0e-8a6b-7c3d-9e1f-0a1b2c3d4e5f",
    AT_PATTERN: "a UTC time with six fractional digits such as 2026-11-23T08:15:30.123456Z",
    "^[0-9a-f]{32}$": "32 lower-case hex digits",
    "^[0-9a-f]{16}$": "16 lower-case hex digits",
}
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _members(kind: Any) -> list[Any]:
    if get_origin(kind) in (Union, types.UnionType):
        return [m for arg in get_args(kind) for m in _members(arg)]
    return [kind]


def _bounds(meta: dict[str, Any], unit: str) -> str:
    lo, hi = meta.get("ge"), meta.get("le")
    if lo is not None and hi is not None:
        return f"{unit} from {lo} to {hi}"
    if lo is not None:
        return f"{unit} of at least {lo}"
    return unit


def _describe(kind: Any) -> str:
    """What a value of an annotated model type must be, in words."""
    members = [m for m in _members(kind) if m is not msgspec.UnsetType]
    nullable = type(None) in members
    words: list[str] = []
    for member in (m for m in members if m is not type(None)):
        meta: dict[str, Any] = {}
        while get_origin(member) is Annotated:
            member, *metas = get_args(member)
            for m in metas:
                if isinstance(m, msgspec.Meta):
                    names = ("ge", "le", "min_length", "max_length", "pattern")
                    meta.update({k: getattr(m, k) for k in names if getattr(m, k) is not None})
        if get_origin(member) is Literal:
            words.append("one of " + ", ".join(repr(v) for v in get_args(member)))
        elif member is str and "pattern" in meta:
            words.append(_PATTERN_WORDS.get(meta["pattern"], f"a string matching {meta['pattern']}"))
        elif member is str:
            lo, hi = meta.get("min_length", 0), meta.get("max_length")
            words.append(f"a string of {lo} to {hi} characters" if hi is not None else "a string")
        elif member is int:
            words.append(_bounds(meta, "an integer"))
        elif member is float:
            words.append(_bounds(meta, "a number"))
        elif member == dict[str, Any]:
            words.append("a JSON object")
        elif isinstance(member, type) and issubclass(member, msgspec.Struct):
            required = member.__struct_fields__[: len(member.__struct_fields__) - len(member.__struct_defaults__)]
            words.append(f"an object with {', '.join(required)}" if required else "an object")
    if len(words) == 2 and words[0].startswith("an integer") and words[1].startswith("a number"):
        words = [words[0]]  # int | integral float: JSON Schema's "integer"
    text = " or ".join(dict.fromkeys(words)) or "a valid value"
    return f"{text}, or null" if nullable else text


def _field_types() -> dict[str, Any]:
    """Every field path of the model (dotted) and its annotated type."""
    out: dict[str, Any] = {}

    def walk(cls: type[msgspec.Struct], prefix: str) -> None:
        hints = typing.get_type_hints(cls, include_extras=True)
        for name in cls.__struct_fields__:
            path = f"{prefix}{name}"
            out[path] = hints[name]
            for member in _members(hints[name]):
                while get_origin(member) is Annotated:
                    member = get_args(member)[0]
                if isinstance(member, type) and issubclass(member, msgspec.Struct):
                    walk(member, f"{path}.")

    walk(Event, "")
    return out


_DESCRIPTIONS = {path: _describe(kind) for path, kind in _field_types().items()}


def refused_field(decoder_message: str) -> tuple[str, str]:
    """(field, our message) for a value the decoder refused; it reported `decoder_message`."""
    named = _NAMED_FIELD.search(decoder_message)
    located = _AT_PATH.search(decoder_message)
    path = located.group(1) if located else ""
    prefix = _SUBSCRIPT.sub(lambda m: "" if m.group(1) == "..." else f".{m.group(1)}", path)
    if named:
        field = f"{prefix}.{named.group(1)}" if prefix else named.group(1)
        if field in _DESCRIPTIONS:
            return field, f"{field} is required: it must be {_DESCRIPTIONS[field]}"
        return field, f"{field} is not a field of {prefix or 'the event'}; see conformance/schema/event-v1.json"
    if not prefix:
        return "event", "the event must be a JSON object with the fields of conformance/schema/event-v1.json"
    inside_a_value = "[" in path  # a key or item of a JSON value
    if prefix in _DESCRIPTIONS and not inside_a_value:
        return prefix, f"{prefix} must be {_DESCRIPTIONS[prefix]}"
    top = prefix.split(".")[0]
    if _DESCRIPTIONS.get(top) == "a JSON object":
        return top, f"{top} holds a value that cannot be stored: a number beyond a 64-bit float or integer"
    return top, f"{prefix} does not match conformance/schema/event-v1.json"


def undecodable(raw: bytes, decoder_message: str) -> str:
    """Our message for an event that is not valid JSON text (it reported `decoder_message`)."""
    try:
        raw.decode()
    except UnicodeDecodeError as exc:
        return f"a string in the event is not valid UTF-8 (byte {exc.start})"
    lone = _lone_surrogate(raw)
    if lone is not None:
        return f"a string in the event holds half of a UTF-16 surrogate pair (\\u escape at byte {lone})"
    at = _BYTE.search(decoder_message)
    return f"the event is not valid JSON (near byte {at.group(1)})" if at else "the event is not valid JSON"


def _lone_surrogate(raw: bytes) -> int | None:
    """The offset of a \\uD800-\\uDFFF escape that is not a high+low pair, or None."""
    skip_until = -1
    for match in _SURROGATE.finditer(raw):
        start = match.start()
        if start < skip_until or _escaped(raw, start):
            continue
        unit = int(raw[start + 2 : start + 6], 16)
        following = raw[start + 6 : start + 12]
        if unit <= 0xDBFF and _SURROGATE.fullmatch(following) and int(following[2:], 16) >= 0xDC00:
            skip_until = start + 12
            continue
        return start
    return None


def _escaped(raw: bytes, start: int) -> bool:
    """Whether the backslash at `start` is itself escaped (an odd run of backslashes before it)."""
    n = 0
    while start - n - 1 >= 0 and raw[start - n - 1] == 0x5C:
        n += 1
    return n % 2 == 1
