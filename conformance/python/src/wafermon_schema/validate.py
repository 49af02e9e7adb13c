"""Split a request body into events and check each one against event v1.

A bad event never poisons its batch: every item is judged on its own and the caller gets the good
ones (with their original bytes, so nothing is re-encoded) and, per bad one, its index and field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import msgspec

from .model import Event, cross_field_problem

MAX_EVENT_BYTES = 98304

_event_decoder = msgspec.json.Decoder(Event)
_array_decoder = msgspec.json.Decoder(list[msgspec.Raw])
_any_decoder = msgspec.json.Decoder()

_AT_PATH = re.compile(r" - at `\$\.?([^`]*)`$")
_NAMED_FIELD = re.compile(r"(?:unknown|required) field `([^`]+)`")


class BatchFormatError(ValueError):
    """The body as a whole is not a JSON object, a JSON array or NDJSON."""


@dataclass(frozen=True, slots=True)
class Problem:
    index: int
    field: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"index": self.index, "field": self.field, "message": self.message}


@dataclass(frozen=True, slots=True)
class Accepted:
    index: int
    raw: bytes
    event: Event


def split_body(body: bytes) -> list[bytes]:
    """Items of a JSON array, NDJSON lines, or a single JSON object, as raw bytes each."""
    stripped = body.strip()
    if not stripped:
        raise BatchFormatError("the body is empty; send a JSON array, NDJSON or one JSON object")
    if stripped[:1] == b"[":
        try:
            return [bytes(item) for item in _array_decoder.decode(stripped)]
        except msgspec.DecodeError as exc:
            raise BatchFormatError(f"the body is not a valid JSON array: {exc}") from None
        except RecursionError:
            # An item nested deeper than the decoder's recursion: split without recursing, so that
            # item is refused on its own (check_event) and the others are kept.
            return _split_array_iteratively(stripped)
    lines = [line for line in stripped.split(b"\n") if line.strip()]
    return lines


_OPEN, _CLOSE, _QUOTE, _BACKSLASH, _COMMA = b"[{", b"]}", 0x22, 0x5C, 0x2C


def _split_array_iteratively(array: bytes) -> list[bytes]:
    """The items of a JSON array found by tracking depth and strings, byte by byte (no recursion).

    Only the framing is checked here; each item is judged afterwards by check_event."""
    items: list[bytes] = []
    depth, start, in_string, escaped = 0, 1, False, False
    for i, byte in enumerate(array):
        if in_string:
            if escaped:
                escaped = False
            elif byte == _BACKSLASH:
                escaped = True
            elif byte == _QUOTE:
                in_string = False
        elif byte == _QUOTE:
            in_string = True
        elif byte in _OPEN:
            depth += 1
        elif byte in _CLOSE:
            depth -= 1
            if depth == 0:  # the array's own closing bracket
                if array[i + 1 :].strip():
                    raise BatchFormatError("the body is not a valid JSON array: data after its end")
                last = array[start:i].strip()
                if last:
                    items.append(last)
                return items
        elif byte == _COMMA and depth == 1:
            items.append(array[start:i].strip())
            start = i + 1
    raise BatchFormatError("the body is not a valid JSON array: it does not end")


def _field_of(message: str) -> str:
    named = _NAMED_FIELD.search(message)
    path = _AT_PATH.search(message)
    prefix = path.group(1) if path else ""
    if named:
        return f"{prefix}.{named.group(1)}" if prefix else named.group(1)
    return prefix or "event"


def check_event(index: int, raw: bytes) -> Accepted | Problem:
    """Judge one encoded event."""
    if len(raw) > MAX_EVENT_BYTES:
        return Problem(index, "event", f"event is {len(raw)} bytes; the limit is {MAX_EVENT_BYTES}")
    try:
        event = _event_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        message = str(exc)
        return Problem(index, _field_of(message), message)
    except msgspec.DecodeError as exc:
        return Problem(index, "event", f"not valid JSON: {exc}")
    except RecursionError:
        # Deeply nested metadata exhausts the decoder's recursion; refuse the event, not the batch.
        return Problem(index, "metadata", "nested too deeply to decode")
    except UnicodeDecodeError as exc:  # msgspec decodes strings as UTF-8 and raises this
        return Problem(index, "event", f"a string in the event is not valid UTF-8 ({exc.reason})")
    problem = cross_field_problem(event)
    if problem is not None:
        return Problem(index, problem[0], problem[1])
    return Accepted(index, raw, event)


def check_batch(body: bytes) -> tuple[list[Accepted], list[Problem]]:
    """Every item of a body, split into the good and the bad. Raises BatchFormatError."""
    accepted: list[Accepted] = []
    problems: list[Problem] = []
    for index, raw in enumerate(split_body(body)):
        verdict = check_event(index, raw)
        if isinstance(verdict, Accepted):
            accepted.append(verdict)
        else:
            problems.append(verdict)
    return accepted, problems


def event_to_dict(event: Event) -> dict[str, object]:
    """A plain dict of a validated event, without the fields it did not carry."""
    result: dict[str, object] = msgspec.to_builtins(event)
    return result


def decode_any(raw: bytes) -> object:
    """Plain JSON decode (for callers that need the untyped value)."""
    return _any_decoder.decode(raw)
