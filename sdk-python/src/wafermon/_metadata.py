"""Metadata and string arguments: checked and encoded in Python before any C call, so a bad value
raises at the call, names the field, and nothing is emitted half-way."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import orjson

from ._native import ffi
from .errors import EncodingError, InvalidArgumentError, MetadataError

NULL: Any = ffi.NULL
_LONG_NUMBER = re.compile(rb"[0-9]{19}")
_INT64 = range(-(2**63), 2**63)
T = TypeVar("T")


def text(what: str, value: object, *, optional: bool = True) -> Any:
    """A str argument as UTF-8 bytes for C (``NULL`` for None when optional)."""
    if value is None and optional:
        return NULL
    if not isinstance(value, str):
        raise InvalidArgumentError(
            f"{what} must be a str{' or None' if optional else ''}, got {type(value).__name__} {value!r:.60}"
        )
    if "\0" in value:
        raise EncodingError(f"{what} contains a NUL character")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodingError(f"{what} is not valid UTF-8: {exc.reason} at index {exc.start}") from None


def encode(metadata: object, what: str = "metadata") -> Any:
    """A metadata mapping as JSON bytes for C; ``NULL`` for None or an empty mapping.

    orjson writes str, int, float, bool, None, dict, list, tuple, and also datetime, date, UUID,
    enum and dataclass values; NaN and infinities have no JSON form and are refused.
    """
    if metadata is None:
        return NULL
    if not isinstance(metadata, Mapping):
        raise MetadataError(f"{what} must be a mapping (a JSON object), got {type(metadata).__name__}")
    if not metadata:
        return NULL
    try:
        data = orjson.dumps(metadata if isinstance(metadata, dict) else dict(metadata))
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise MetadataError(_explain(metadata, what) or f"{what}: {exc}") from None
    if b"\\u0000" in data:
        # The core's JSON parser (jansson) refuses NUL in keys and strings: say where it is.
        raise MetadataError(
            f"{_find_nul(metadata, what) or what} contains a NUL character, which wafermon cannot carry"
        )
    if _LONG_NUMBER.search(data):
        # The core keeps integers as int64; orjson also writes up to 2**64 - 1.
        where = _find_big_int(metadata, what)
        if where:
            raise MetadataError(f"{where} is an integer outside the signed 64-bit range wafermon carries")
    if b"null" in data:
        # orjson writes NaN and infinities as null: look for them only when a null is present.
        found = _find_nonfinite(metadata, what)
        if found:
            raise MetadataError(f"{found[0]} is {found[1]!r}: JSON has no NaN or infinity")
    return data


def _walk(
    value: object,
    path: str,
    leaf: Callable[[object, str], T | None],
    key: Callable[[object, str], T | None] | None = None,
) -> T | None:
    """The first finding of ``leaf(value, path)`` on the leaves (or of ``key(key, path)`` on the
    keys) of a depth-first walk through mappings, lists and tuples; paths read ``metadata['a'][0]``."""
    if isinstance(value, Mapping):
        for name, item in value.items():
            found = key(name, path) if key else None
            if found is None:
                found = _walk(item, f"{path}[{name!r}]", leaf, key)
            if found is not None:
                return found
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _walk(item, f"{path}[{i}]", leaf, key)
            if found is not None:
                return found
        return None
    return leaf(value, path)


def _refused_key(key: object, path: str) -> str | None:
    if not isinstance(key, str):
        return f"{path}: key {key!r} is a {type(key).__name__}; JSON object keys must be str"
    return None if _utf8(key) else f"{path}: key {key!r} is not valid UTF-8 (a lone surrogate)"


def _refused_leaf(value: object, path: str) -> str | None:
    if isinstance(value, str):
        return None if _utf8(value) else f"{path} is not valid UTF-8 (a lone surrogate)"
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return f"{path} is an integer outside the signed 64-bit range wafermon carries"
    try:
        orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return f"{path} is a {type(value).__name__}, which is not JSON-serialisable"
    return None


def _explain(value: object, path: str) -> str | None:
    """The path and reason of the first value orjson refused."""
    return _walk(value, path, _refused_leaf, _refused_key)


def _find_big_int(value: object, path: str) -> str | None:
    def big(v: object, p: str) -> str | None:
        return p if isinstance(v, int) and not isinstance(v, bool) and v not in _INT64 else None

    return _walk(value, path, big)


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _find_nul(value: object, path: str) -> str | None:
    """The path of the first key or string holding a NUL character."""

    def nul_key(k: object, p: str) -> str | None:
        return f"{p}: key {k!r}" if isinstance(k, str) and "\0" in k else None

    def nul_leaf(v: object, p: str) -> str | None:
        return p if isinstance(v, str) and "\0" in v else None

    return _walk(value, path, nul_leaf, nul_key)


def _find_nonfinite(value: object, path: str) -> tuple[str, float] | None:
    """The path and value of the first NaN or infinity."""

    def nonfinite(v: object, p: str) -> tuple[str, float] | None:
        return (p, v) if isinstance(v, float) and not math.isfinite(v) else None

    return _walk(value, path, nonfinite)
