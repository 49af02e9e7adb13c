"""Subjects of the nats backend (conformance/backends/nats.md is normative): a template of
dot-separated tokens with placeholders, each value escaped so it is exactly one subject token.

Escaping: every UTF-8 byte of the value other than A-Z a-z 0-9 `_` `-` is written `%XX` (uppercase
hex), `%` included, so `.` `*` `>`, white space and non-ASCII never reach the subject and the
original value is recoverable (percent-decoding). An empty or missing value is written `%00`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

#: What a placeholder may name, and where its value is read from in the event.
PLACEHOLDERS = ("site", "app", "entity_type", "event_kind", "status")
DEFAULT_TEMPLATE = "wafermon.{site}.{entity_type}.{event_kind}"
_SAFE = frozenset(string.ascii_letters + string.digits + "_-")
_LITERAL_TOKEN = re.compile(r"^[A-Za-z0-9_\-]+$")
_PLACEHOLDER = re.compile(r"\{([a-z_]*)\}")


def escape_token(value: str | None) -> str:
    """`value` as one subject token (see the module docstring)."""
    if not value:
        return "%00"
    if all(c in _SAFE for c in value):
        return value
    return "".join(chr(b) if chr(b) in _SAFE else f"%{b:02X}" for b in value.encode("utf-8", "surrogatepass"))


def check_template(template: str) -> str | None:
    """None when `template` is usable; else what is wrong, in words. Each token is literal (letters,
    digits, `_`, `-`) or holds placeholders from PLACEHOLDERS, and at least one token is literal
    or the subject would be a bare value."""
    tokens = template.split(".")
    if not template or any(not t for t in tokens):
        return "has an empty token (leading, trailing or doubled dots)"
    for token in tokens:
        for name in _PLACEHOLDER.findall(token):
            if name not in PLACEHOLDERS:
                return f"names {{{name}}}; the placeholders are {', '.join('{' + p + '}' for p in PLACEHOLDERS)}"
        literal = _PLACEHOLDER.sub("x", token)
        if not _LITERAL_TOKEN.match(literal):
            return f"token {token!r} holds a character other than letters, digits, _ - and placeholders"
    if all(_PLACEHOLDER.search(t) for t in tokens):
        return "needs at least one token without a placeholder (a prefix such as `wafermon`)"
    return None


def stream_subjects(template: str) -> str:
    """The stream subject filter that takes every subject of `template` (a token with a placeholder → `*`)."""
    return ".".join("*" if _PLACEHOLDER.search(t) else t for t in template.split("."))


def _values(event: Mapping[str, Any]) -> dict[str, str]:
    app = event.get("app")
    name = app.get("name") if isinstance(app, Mapping) else None
    raw = {
        "site": event.get("site_id"),
        "app": name,
        "entity_type": event.get("entity_type"),
        "event_kind": event.get("event_kind"),
        "status": event.get("status"),
    }
    return {key: escape_token(value if isinstance(value, str) else None) for key, value in raw.items()}


def subject_for(template: str, event: Mapping[str, Any]) -> str:
    """The subject of `event` under `template` (checked with check_template first)."""
    values = _values(event)
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)
