"""Metadata and string arguments: checked and encoded in Python before any C call, so a bad value
raises at the call, names the field, and nothing is emitted half-way."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import orjson

from ._native import ffi
from .errors import EncodingError, InvalidArgumentError, MetadataError

NULL: Any = ffi.NULL
_LONG_NUMBER = re.compile(rb"[0-9]{19}")
_INT64 = range(-(2**63), 2**63)


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


def _explain(value: object, path: str) -> str | None:
    """The path and reason of the first value orjson refused."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path}: key {key!r} is a {type(key).__name__}; JSON object keys must be str"
            if not _utf8(key):
                return f"{path}: key {key!r} is not valid UTF-8 (a lone surrogate)"
            found = _explain(item, f"{path}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _explain(item, f"{path}[{i}]")
            if found:
                return found
        return None
    if isinstance(value, str):
        return None if _utf8(value) else f"{path} is not valid UTF-8 (a lone surrogate)"
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return f"{path} is an integer outside the signed 64-bit range wafermon carries"
    try:
        orjson.dumps(value)
    except (TypeError, orjson.JSONEncodeError):
        return f"{path} is a {type(value).__name__}, which is not JSON-serialisable"
    return None


def _find_big_int(value: object, path: str) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return None if value in _INT64 else path
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _find_big_int(item, f"{path}[{key!r}]")
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _find_big_int(item, f"{path}[{i}]")
            if found:
                return found
    return None


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _find_nul(value: object, path: str) -> str | None:
    """The path of the first key or string holding a NUL character."""
    if isinstance(value, str):
        return path if "\0" in value else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and "\0" in key:
                return f"{path}: key {key!r}"
            found = _find_nul(item, f"{path}[{key!r}]")
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _find_nul(item, f"{path}[{i}]")
            if found:
                return found
    return None


def _find_nonfinite(value: object, path: str) -> tuple[str, float] | None:
    """The path and value of the first NaN or infinity."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _find_nonfinite(item, f"{path}[{key!r}]")
            if found:
                return found
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _find_nonfinite(item, f"{path}[{i}]")
            if found:
                return found
    return None
